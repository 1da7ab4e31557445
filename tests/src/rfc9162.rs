//! An RFC 9162 (Certificate Transparency 2.0) proof verifier written apart from the service:
//! it shares no code with `tica-credential`'s Merkle log, and follows the RFC's text step by
//! step, so that the end-to-end tests check the service's inclusion and consistency proofs
//! independently of the code path that made them.
//!
//! Hashing (§2.1.1): a leaf is `SHA-256(0x00 ‖ entry)`, an interior node
//! `SHA-256(0x01 ‖ left ‖ right)`. Proof hashes are `Vec<u8>`, as protobuf `repeated bytes`
//! delivers them; each must be 32 bytes.

use sha2::{Digest, Sha256};

/// The length of a SHA-256 hash.
const HASH_LEN: usize = 32;

/// The leaf hash of a log entry: `SHA-256(0x00 ‖ entry)` (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// `HASH(0x01 ‖ left ‖ right)`.
fn node(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

fn lsb(x: u64) -> bool {
    x & 1 == 1
}

fn check_lengths(what: &str, proof: &[Vec<u8>], roots: &[&[u8]]) -> Result<(), String> {
    for (i, hash) in proof.iter().enumerate() {
        if hash.len() != HASH_LEN {
            return Err(format!(
                "{what} hash {i} is {} bytes, not {HASH_LEN}",
                hash.len()
            ));
        }
    }
    for root in roots {
        if root.len() != HASH_LEN {
            return Err(format!(
                "a root hash is {} bytes, not {HASH_LEN}",
                root.len()
            ));
        }
    }
    Ok(())
}

/// Verifies an inclusion proof by RFC 9162 §2.1.3.2: `leaf_hash` is leaf `leaf_index` of the
/// tree of `tree_size` leaves whose root is `root`, by the audit path `proof` (leaf to root).
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &[u8; 32],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), String> {
    check_lengths("inclusion path", proof, &[root])?;
    // 1. Compare leaf_index against tree_size. If leaf_index is greater than or equal to
    //    tree_size, fail the proof verification.
    if leaf_index >= tree_size {
        return Err(format!(
            "leaf index {leaf_index} is not below the tree size {tree_size}"
        ));
    }
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    // 3. Set r to hash.
    let mut r = *leaf_hash;
    // 4. For each value p in the inclusion_path array:
    for (i, p) in proof.iter().enumerate() {
        // a. If sn is 0, stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(format!(
                "the inclusion path reached the root with {} hash(es) left over",
                proof.len() - i
            ));
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn_) || fn_ == sn {
            // 1. Set r to HASH(0x01 || p || r).
            r = node(p, &r);
            // 2. If LSB(fn) is not set, right-shift both fn and sn equally until either
            //    LSB(fn) is set or fn is 0.
            if !lsb(fn_) {
                while !lsb(fn_) && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise: set r to HASH(0x01 || r || p).
            r = node(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Compare sn to 0. Compare r against the root_hash.
    if sn != 0 {
        return Err("the inclusion path ended before reaching the root".into());
    }
    if r[..] != *root {
        return Err("the inclusion path does not lead to the root".into());
    }
    Ok(())
}

/// Verifies a consistency proof by RFC 9162 §2.1.4.2: the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`.
///
/// The RFC's algorithm is for `0 < first < second`. Outside it, there is nothing to prove and
/// the proof must be empty: `first == second` holds when the roots are equal, `first == 0`
/// when `first_root` is the empty tree's hash, `SHA-256("")`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &[u8],
    second_root: &[u8],
    proof: &[Vec<u8>],
) -> Result<(), String> {
    check_lengths("consistency path", proof, &[first_root, second_root])?;
    if first > second {
        return Err(format!(
            "the first tree size {first} is larger than the second {second}"
        ));
    }
    if first == 0 || first == second {
        if !proof.is_empty() {
            return Err(format!(
                "a consistency proof from size {first} to {second} must be empty"
            ));
        }
        let expected: Vec<u8> = if first == 0 {
            Sha256::digest(b"").to_vec()
        } else {
            second_root.to_vec()
        };
        if first_root != expected {
            return Err(format!(
                "the root of size {first} is not the one expected for it"
            ));
        }
        return Ok(());
    }
    // 1. If consistency_path is an empty array, stop and fail the proof verification.
    if proof.is_empty() {
        return Err("the consistency path is empty".into());
    }
    // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path.
    let mut path: Vec<&[u8]> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(first_root);
    }
    path.extend(proof.iter().map(Vec::as_slice));
    // 3. Set fn to first - 1 and sn to second - 1.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let mut fr: [u8; 32] = path[0].try_into().expect("checked to be 32 bytes");
    let mut sr = fr;
    // 6. For each subsequent value c in the consistency_path array:
    for (i, c) in path.iter().enumerate().skip(1) {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(format!(
                "the consistency path reached the root with {} hash(es) left over",
                path.len() - i
            ));
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn_) || fn_ == sn {
            // 1. Set fr to HASH(0x01 || c || fr).
            fr = node(c, &fr);
            // 2. Set sr to HASH(0x01 || c || sr).
            sr = node(c, &sr);
            // 3. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            //    LSB(fn) is set or fn is 0.
            if !lsb(fn_) {
                while !lsb(fn_) && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise: set sr to HASH(0x01 || sr || c).
            sr = node(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. Verify that fr equals first_hash, that sr equals second_hash, and that sn is 0.
    if sn != 0 {
        return Err("the consistency path ended before reaching the root".into());
    }
    if fr[..] != *first_root {
        return Err(format!(
            "the consistency path does not lead to the root of size {first}"
        ));
    }
    if sr[..] != *second_root {
        return Err(format!(
            "the consistency path does not lead to the root of size {second}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! A naive tree built from RFC 9162 §2.1's recursive definitions, written here and not
    //! taken from the service's code.

    use super::*;

    fn k(n: usize) -> usize {
        // The largest power of two smaller than n (n > 1).
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]) over entries (§2.1.1).
    fn mth(d: &[Vec<u8>]) -> Vec<u8> {
        match d.len() {
            0 => Sha256::digest(b"").to_vec(),
            1 => leaf_hash(&d[0]).to_vec(),
            n => node(&mth(&d[..k(n)]), &mth(&d[k(n)..])).to_vec(),
        }
    }

    /// PATH(m, D[n]) (§2.1.3.1).
    fn path(m: usize, d: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let n = d.len();
        if n == 1 {
            return Vec::new();
        }
        let k = k(n);
        let (mut p, sibling) = if m < k {
            (path(m, &d[..k]), mth(&d[k..]))
        } else {
            (path(m - k, &d[k..]), mth(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// SUBPROOF(m, D[n], b) (§2.1.4.1).
    fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Vec<u8>> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k(n);
        let (mut p, sibling) = if m <= k {
            (subproof(m, &d[..k], b), mth(&d[k..]))
        } else {
            (subproof(m - k, &d[k..], false), mth(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (§2.1.4.1).
    fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Vec<u8>> {
        subproof(m, d, true)
    }

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("certificate {i}").into_bytes())
            .collect()
    }

    fn flip(proof: &[Vec<u8>], at: usize) -> Vec<Vec<u8>> {
        let mut proof = proof.to_vec();
        proof[at][at % 32] ^= 0x80;
        proof
    }

    #[test]
    fn the_naive_tree_has_the_certificate_transparency_reference_roots() {
        // The reference inputs of transparency-dev/merkle and google/certificate-transparency.
        let d: Vec<Vec<u8>> = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|x| hex::decode(x).unwrap())
        .collect();
        assert_eq!(
            hex::encode(mth(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(mth(&d[..1])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            hex::encode(mth(&d[..5])),
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"
        );
        let root = mth(&d);
        assert_eq!(
            hex::encode(&root),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
        let known: Vec<Vec<u8>> = [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ]
        .iter()
        .map(|x| hex::decode(x).unwrap())
        .collect();
        assert_eq!(path(5, &d), known);
        assert_eq!(
            verify_inclusion(5, 8, &leaf_hash(&d[5]), &known, &root),
            Ok(())
        );
    }

    #[test]
    fn every_inclusion_proof_of_a_hand_built_tree_verifies_and_a_tampered_one_fails() {
        let all = entries(22);
        for n in 1..all.len() {
            let d = &all[..n];
            let root = mth(d);
            for m in 0..n {
                let leaf = leaf_hash(&d[m]);
                let p = path(m, d);
                let (m, size) = (m as u64, n as u64);
                assert_eq!(verify_inclusion(m, size, &leaf, &p, &root), Ok(()));
                for at in 0..p.len() {
                    assert!(verify_inclusion(m, size, &leaf, &flip(&p, at), &root).is_err());
                }
                for wrong in (0..size).filter(|&i| i != m) {
                    assert!(verify_inclusion(wrong, size, &leaf, &p, &root).is_err());
                }
                assert!(verify_inclusion(m, size * 2, &leaf, &p, &root).is_err());
                assert!(verify_inclusion(m, size, &leaf_hash(b"other"), &p, &root).is_err());
                assert!(verify_inclusion(m, size, &leaf, &p, &mth(&all[..n + 1])).is_err());
                let longer = [&p[..], std::slice::from_ref(&root)].concat();
                assert!(verify_inclusion(m, size, &leaf, &longer, &root).is_err());
                if let Some((_, shorter)) = p.split_last() {
                    assert!(verify_inclusion(m, size, &leaf, shorter, &root).is_err());
                }
            }
            assert!(verify_inclusion(n as u64, n as u64, &[0; 32], &[], &root).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_of_a_hand_built_tree_verifies_and_a_tampered_one_fails() {
        let all = entries(21);
        for n in 1..=all.len() {
            let d = &all[..n];
            let second = mth(d);
            for m in 1..n {
                let first = mth(&d[..m]);
                let p = proof(m, d);
                let (m, n) = (m as u64, n as u64);
                assert_eq!(verify_consistency(m, n, &first, &second, &p), Ok(()));
                for at in 0..p.len() {
                    assert!(verify_consistency(m, n, &first, &second, &flip(&p, at)).is_err());
                }
                assert!(verify_consistency(m, n, &second, &first, &p).is_err());
                assert!(verify_consistency(m, n, &first, &second, &[]).is_err());
                assert!(verify_consistency(m, n, &first, &second, &p[1..]).is_err());
                let longer = [&p[..], std::slice::from_ref(&first)].concat();
                assert!(verify_consistency(m, n, &first, &second, &longer).is_err());
                for wrong in (1..n).filter(|&w| w != m) {
                    assert!(verify_consistency(wrong, n, &first, &second, &p).is_err());
                }
                assert!(verify_consistency(m, n * 2, &first, &second, &p).is_err());
            }
            // Outside §2.1.4.2's 0 < first < second: an empty proof and matching roots.
            assert_eq!(
                verify_consistency(n as u64, n as u64, &second, &second, &[]),
                Ok(())
            );
            assert!(verify_consistency(n as u64, n as u64, &mth(&[]), &second, &[]).is_err());
            assert_eq!(
                verify_consistency(0, n as u64, &mth(&[]), &second, &[]),
                Ok(())
            );
            assert!(verify_consistency(0, n as u64, &second, &second, &[]).is_err());
        }
    }

    #[test]
    fn hashes_that_are_not_32_bytes_are_refused() {
        let d = entries(3);
        let root = mth(&d);
        let mut p = path(0, &d);
        assert!(verify_inclusion(0, 3, &leaf_hash(&d[0]), &p, &root[..31]).is_err());
        p[0].push(0);
        let err = verify_inclusion(0, 3, &leaf_hash(&d[0]), &p, &root).unwrap_err();
        assert!(err.contains("33 bytes"), "{err}");
        assert!(verify_consistency(1, 3, &mth(&d[..1]), &root, &p).is_err());
    }
}
