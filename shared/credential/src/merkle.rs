//! The certificate issuance log: a Merkle tree hashed as RFC 9162 (Certificate Transparency
//! 2.0) §2.1 hashes it, with its audit paths and consistency proofs, and the checkpoint a log
//! key signs.
//!
//! * Leaf hash: `SHA-256(0x00 ‖ entry)`; interior node: `SHA-256(0x01 ‖ left ‖ right)`; the
//!   hash of the empty tree: `SHA-256("")` (§2.1.1).
//! * [`inclusion_proof`] is `PATH(m, D[n])` (§2.1.3.1), [`verify_inclusion`] the algorithm of
//!   §2.1.3.2; [`consistency_proof`] is `PROOF(m, D[n])` (§2.1.4.1), [`verify_consistency`]
//!   the algorithm of §2.1.4.2. Proof hashes are ordered from the leaf up, as the RFC lists
//!   them.
//! * [`MerkleLog`] is the same tree kept in memory for a growing log: appends, roots and proofs
//!   in `O(log n)` hashing (`O(log² n)` for a proof), however many leaves it holds.
//! * [`checkpoint_note`] is the text a log key signs, in the C2SP `tlog-checkpoint` form.
//!
//! Tree sizes and leaf indices are `u64`, as in the RFC's messages.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree head.
pub type Hash = [u8; 32];

/// Why a proof could not be made, or does not verify, or a checkpoint does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not that of a leaf of the tree (`index >= size`).
    #[error("leaf index {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree size larger than the tree (or log) at hand.
    #[error("tree size {size} is larger than the {available} leaves at hand")]
    SizeBeyondTree {
        /// The tree size asked for.
        size: u64,
        /// How many leaves there are.
        available: u64,
    },
    /// A consistency proof asked from a larger tree to a smaller one.
    #[error("no consistency proof from tree size {old} back to the smaller size {new}")]
    SizesOutOfOrder {
        /// The earlier tree size.
        old: u64,
        /// The later tree size.
        new: u64,
    },
    /// The proof has hashes left over once the path reached the root (§2.1.3.2 step 4a,
    /// §2.1.4.2 step 6).
    #[error("the proof is too long for these tree sizes")]
    ProofTooLong,
    /// The proof ended before the path reached the root (`sn` not 0 at the end), or is empty
    /// where a consistency proof needs hashes (§2.1.4.2 step 1).
    #[error("the proof is too short for these tree sizes")]
    ProofTooShort,
    /// The proof does not lead to the (later) root it should: the leaf, the proof, the index,
    /// the sizes or the root are not the ones that go together.
    #[error("the proof does not lead to the given root")]
    RootMismatch,
    /// The consistency proof does not lead back to the earlier tree's root: the earlier tree
    /// is not a prefix of the later one, or the proof or roots are not the ones that go together.
    #[error("the proof does not lead to the given earlier root")]
    OldRootMismatch,
    /// A checkpoint note that is not `origin\nsize\nbase64(root)\n`.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
}

/// The leaf hash of a log entry: `SHA-256(0x00 ‖ entry)` (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The Merkle Tree Hash of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The `k` of RFC 9162 §2.1.1: the largest power of two smaller than `n` (`n > 1`).
fn split(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[n]), the Merkle Tree Hash over the leaf hashes `leaves` (RFC 9162 §2.1.1).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let k = split(leaves.len() as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[lo:hi]) (RFC 9162 §2.1.3.1) appended to `out`, with `mth(a, b)` giving
/// MTH(D[a:b]) for the ranges the recursion needs.
fn path_into(m: u64, lo: u64, hi: u64, mth: &impl Fn(u64, u64) -> Hash, out: &mut Vec<Hash>) {
    let n = hi - lo;
    if n <= 1 {
        // PATH(0, {d(0)}) = {}
        return;
    }
    let k = split(n);
    if m < k {
        // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
        path_into(m, lo, lo + k, mth, out);
        out.push(mth(lo + k, hi));
    } else {
        // PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
        path_into(m - k, lo + k, hi, mth, out);
        out.push(mth(lo, lo + k));
    }
}

/// SUBPROOF(m, D[lo:hi], b) (RFC 9162 §2.1.4.1) appended to `out`.
fn subproof_into(
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    mth: &impl Fn(u64, u64) -> Hash,
    out: &mut Vec<Hash>,
) {
    let n = hi - lo;
    if m == n {
        // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
        if !complete {
            out.push(mth(lo, hi));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        // SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        subproof_into(m, lo, lo + k, complete, mth, out);
        out.push(mth(lo + k, hi));
    } else {
        // SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        subproof_into(m - k, lo + k, hi, false, mth, out);
        out.push(mth(lo, lo + k));
    }
}

fn check_index(index: u64, size: u64) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    Ok(())
}

fn check_sizes(old: u64, new: u64, available: u64) -> Result<(), MerkleError> {
    if new > available {
        return Err(MerkleError::SizeBeyondTree {
            size: new,
            available,
        });
    }
    if old > new {
        return Err(MerkleError::SizesOutOfOrder { old, new });
    }
    Ok(())
}

/// PATH(index, D[n]) (RFC 9162 §2.1.3.1): the audit path of leaf `index` in the tree of all
/// `leaves` (n = `leaves.len()`), from the leaf's sibling up to the root's child.
///
/// Hashes `O(n)` leaves; [`MerkleLog::inclusion_proof`] is the one for large trees.
pub fn inclusion_proof(index: u64, leaves: &[Hash]) -> Result<Vec<Hash>, MerkleError> {
    let size = leaves.len() as u64;
    check_index(index, size)?;
    let mut out = Vec::new();
    let mth = |lo: u64, hi: u64| root(&leaves[lo as usize..hi as usize]);
    path_into(index, 0, size, &mth, &mut out);
    Ok(out)
}

/// PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the consistency proof from the tree of the first `m`
/// of `leaves` to the tree of all of them (n = `leaves.len()`).
///
/// The RFC defines it for `0 < m < n`; for `m == 0` (the empty tree is a prefix of every
/// tree) and `m == n` (the same tree) there is nothing to prove and the proof is empty.
/// Hashes `O(n)` leaves; [`MerkleLog::consistency_proof`] is the one for large trees.
pub fn consistency_proof(m: u64, leaves: &[Hash]) -> Result<Vec<Hash>, MerkleError> {
    let n = leaves.len() as u64;
    check_sizes(m, n, n)?;
    let mut out = Vec::new();
    if m > 0 {
        let mth = |lo: u64, hi: u64| root(&leaves[lo as usize..hi as usize]);
        subproof_into(m, 0, n, true, &mth, &mut out);
    }
    Ok(out)
}

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves whose root
/// is `root`, by the audit path `proof` (RFC 9162 §2.1.3.2).
///
/// An audit path binds the leaf to the root, not the size: a few other sizes share the same
/// path shape (e.g. leaf 0 of 3 and of 4). The size is bound by the signed checkpoint that
/// carries the root.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    // 1. leaf_index >= tree_size fails.
    check_index(index, size)?;
    // 2.–3. fn = leaf_index, sn = tree_size - 1, r = hash.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    // 4. For each p in the inclusion path:
    for p in proof {
        // a. sn == 0: the path is already at the root.
        if s == 0 {
            return Err(MerkleError::ProofTooLong);
        }
        // b. p is on the left when fn is a right child or the last node of its level.
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // c.
        f >>= 1;
        s >>= 1;
    }
    // 5. sn == 0 and r == root.
    if s != 0 {
        return Err(MerkleError::ProofTooShort);
    }
    if &r != root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `m` leaves with root `root_m` is a prefix of the tree of `n`
/// leaves with root `root_n`, by the consistency proof `proof` (RFC 9162 §2.1.4.2).
///
/// The RFC's algorithm covers `0 < m < n`; for `m == n` the proof must be empty and the roots
/// equal, and for `m == 0` the proof must be empty and `root_m` the empty tree's hash.
pub fn verify_consistency(
    m: u64,
    n: u64,
    root_m: &Hash,
    root_n: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    check_sizes(m, n, n)?;
    if m == 0 || m == n {
        if !proof.is_empty() {
            return Err(MerkleError::ProofTooLong);
        }
        let expected = if m == 0 { empty_root() } else { *root_n };
        if root_m != &expected {
            return Err(if m == 0 {
                MerkleError::OldRootMismatch
            } else {
                MerkleError::RootMismatch
            });
        }
        return Ok(());
    }
    // 1. An empty path fails.
    if proof.is_empty() {
        return Err(MerkleError::ProofTooShort);
    }
    // 2. If first is an exact power of 2, prepend first_hash to the path.
    let prepended;
    let path: &[Hash] = if m.is_power_of_two() {
        prepended = [&[*root_m][..], proof].concat();
        &prepended
    } else {
        proof
    };
    // 3. fn = first - 1, sn = second - 1.
    let (mut f, mut s) = (m - 1, n - 1);
    // 4. While LSB(fn) is set, right-shift both.
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // 5. fr = sr = the first value of the path.
    let (mut fr, mut sr) = (path[0], path[0]);
    // 6. For each subsequent value c:
    for c in &path[1..] {
        if s == 0 {
            return Err(MerkleError::ProofTooLong);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // 7. fr == first_hash, sr == second_hash, sn == 0.
    if s != 0 {
        return Err(MerkleError::ProofTooShort);
    }
    if &fr != root_m {
        return Err(MerkleError::OldRootMismatch);
    }
    if &sr != root_n {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// An append-only Merkle tree kept in memory, for a log of up to millions of leaves.
///
/// It keeps every level of the tree: level 0 holds the leaf hashes, level `k` the hashes of
/// the complete subtrees of `2^k` leaves (entry `i` covers leaves `i·2^k .. (i+1)·2^k`). The
/// last entry of each odd-length level is the log's frontier (its compact range). Appending
/// hashes once per completed subtree (amortised 2 hashes per leaf); the root of any size
/// combines at most `log₂ n` stored subtrees; every range a proof needs is aligned to a power
/// of two, so a proof costs `O(log² n)` hashes and no leaf is rehashed. Memory: about two hashes
/// (64 bytes) per leaf.
#[derive(Clone, PartialEq, Eq)]
pub struct MerkleLog {
    /// `levels[k][i]` = MTH of leaves `i·2^k .. (i+1)·2^k`; `levels[k].len() == len >> k`.
    levels: Vec<Vec<Hash>>,
}

impl fmt::Debug for MerkleLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = self.root();
        let short: String = root[..8].iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("MerkleLog")
            .field("len", &self.len())
            .field("root", &format_args!("{short}…"))
            .finish()
    }
}

impl Default for MerkleLog {
    fn default() -> MerkleLog {
        MerkleLog::new()
    }
}

impl MerkleLog {
    /// An empty log.
    pub fn new() -> MerkleLog {
        MerkleLog {
            levels: vec![Vec::new()],
        }
    }

    /// A log of these leaf hashes, in order (hashing each complete subtree once).
    pub fn from_leaves(leaves: Vec<Hash>) -> MerkleLog {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let next = levels
                .last()
                .into_iter()
                .flat_map(|level| level.chunks_exact(2))
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(next);
        }
        MerkleLog { levels }
    }

    /// Appends a leaf hash (see [`leaf_hash`]); its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        let index = self.len();
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let nodes = &self.levels[level];
            let parent = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        index
    }

    /// How many leaves the log holds.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, Vec::len) as u64
    }

    /// Whether the log holds no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// The leaf hash at `index`, if the log has that many leaves.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.leaves().get(i).copied())
    }

    /// MTH(D[lo:hi]) from the stored subtrees; `lo` must be a multiple of the largest power of
    /// two not above `hi - lo`, as every range of §2.1.1's recursion is.
    fn range_hash(&self, lo: u64, hi: u64) -> Hash {
        // The range splits, left to right, into complete subtrees of decreasing size (the bits
        // of hi - lo); MTH folds them from the right.
        let mut parts = [[0u8; 32]; 64];
        let mut count = 0;
        let mut start = lo;
        while start < hi {
            let height = 63 - (hi - start).leading_zeros();
            debug_assert!(
                start.is_multiple_of(1 << height),
                "unaligned range {lo}..{hi}"
            );
            parts[count] = self.levels[height as usize][(start >> height) as usize];
            count += 1;
            start += 1 << height;
        }
        match count {
            0 => empty_root(),
            _ => parts[..count - 1]
                .iter()
                .rev()
                .fold(parts[count - 1], |right, left| node_hash(left, &right)),
        }
    }

    /// The root of the whole log.
    pub fn root(&self) -> Hash {
        self.range_hash(0, self.len())
    }

    /// The root the log had when it held `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, MerkleError> {
        check_sizes(0, size, self.len())?;
        Ok(self.range_hash(0, size))
    }

    /// PATH(index, D[size]) (RFC 9162 §2.1.3.1): the audit path of leaf `index` in the tree
    /// the log was at `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, MerkleError> {
        check_sizes(0, size, self.len())?;
        check_index(index, size)?;
        let mut out = Vec::new();
        path_into(index, 0, size, &|lo, hi| self.range_hash(lo, hi), &mut out);
        Ok(out)
    }

    /// PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the consistency proof from the log at `m` leaves
    /// to the log at `n` leaves (empty when `m` is 0 or `m == n`, see [`consistency_proof`]).
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, MerkleError> {
        check_sizes(m, n, self.len())?;
        let mut out = Vec::new();
        if m > 0 {
            subproof_into(m, 0, n, true, &|lo, hi| self.range_hash(lo, hi), &mut out);
        }
        Ok(out)
    }
}

/// The checkpoint a log key signs, in the C2SP `tlog-checkpoint` form: the origin line, the
/// tree size in decimal, the root in standard (padded) base64, each followed by a newline.
///
/// # Panics
///
/// If `origin` is empty or holds a newline: it is the log's configured name, and a note in
/// which it spans lines would read differently than it was signed.
pub fn checkpoint_note(origin: &str, size: u64, root: &Hash) -> String {
    assert!(
        !origin.is_empty() && !origin.contains('\n'),
        "a checkpoint origin is one non-empty line: {origin:?}"
    );
    let root = base64::engine::general_purpose::STANDARD.encode(root);
    format!("{origin}\n{size}\n{root}\n")
}

/// Parses a checkpoint made by [`checkpoint_note`]: `(origin, size, root)`.
///
/// Strict: exactly three newline-terminated lines, a decimal size without leading zeros, a
/// canonical base64 root of 32 bytes. Extension lines (which C2SP allows) are refused, since
/// this log writes none and a caller of this function would not see them.
pub fn parse_checkpoint_note(note: &str) -> Result<(String, u64, Hash), MerkleError> {
    let bad = |why: &str| MerkleError::MalformedCheckpoint(why.to_owned());
    let body = note
        .strip_suffix('\n')
        .ok_or_else(|| bad("it does not end with a newline"))?;
    let lines: Vec<&str> = body.split('\n').collect();
    let [origin, size, root] = lines[..] else {
        return Err(bad(&format!(
            "{} lines where origin, size and root hash are expected",
            lines.len()
        )));
    };
    if origin.is_empty() {
        return Err(bad("the origin line is empty"));
    }
    let decimal = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let size = decimal
        .then(|| size.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| bad(&format!("the tree size {size:?} is not a decimal u64")))?;
    let root: Hash = base64::engine::general_purpose::STANDARD
        .decode(root)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad("the root hash is not 32 bytes of standard base64"))?;
    Ok((origin.to_owned(), size, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(hex: &str) -> Hash {
        hex::decode(hex).unwrap().try_into().unwrap()
    }

    /// The eight inputs of the Certificate Transparency reference tests (RFC 6962 / RFC 9162
    /// hashing), as in transparency-dev/merkle `proof/verify_test.go` and
    /// google/certificate-transparency.
    fn reference_entries() -> Vec<Vec<u8>> {
        [
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
        .map(|hex| hex::decode(hex).unwrap())
        .collect()
    }

    fn reference_leaves() -> Vec<Hash> {
        reference_entries().iter().map(|e| leaf_hash(e)).collect()
    }

    /// Roots of the reference trees of sizes 0 (`SHA-256("")`) to 8.
    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// Leaves of a synthetic tree, distinct per index.
    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// Which side each audit-path hash sits on (true: left of the running hash), read from
    /// PATH's recursion (§2.1.3.1): the shape a verifier walks for `(index, size)`.
    fn sides(index: u64, size: u64) -> Vec<bool> {
        if size <= 1 {
            return Vec::new();
        }
        let k = split(size);
        let (mut below, left) = if index < k {
            (sides(index, k), false)
        } else {
            (sides(index - k, size - k), true)
        };
        below.push(left);
        below
    }

    fn flipped(proof: &[Hash], at: usize, byte: usize) -> Vec<Hash> {
        let mut proof = proof.to_vec();
        proof[at][byte] ^= 0x01;
        proof
    }

    #[test]
    fn the_empty_tree_hashes_to_the_sha256_of_nothing() {
        // RFC 9162 §2.1.1: MTH({}) = SHA-256().
        assert_eq!(root(&[]), h(REFERENCE_ROOTS[0]));
        assert_eq!(MerkleLog::new().root(), h(REFERENCE_ROOTS[0]));
        assert_eq!(MerkleLog::from_leaves(Vec::new()).root(), empty_root());
    }

    #[test]
    fn the_reference_trees_have_the_published_roots() {
        // §2.1.1 hashing over the CT reference inputs: MTH(D[n]) for n = 0..=8.
        let leaves = reference_leaves();
        let mut log = MerkleLog::new();
        for (n, expected) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(root(&leaves[..n]), h(expected), "size {n}");
            assert_eq!(log.root(), h(expected), "log of size {n}");
            if n < leaves.len() {
                log.push(leaves[n]);
            }
        }
        for (n, expected) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(log.root_at(n as u64).unwrap(), h(expected), "root_at({n})");
        }
    }

    #[test]
    fn the_reference_proofs_are_the_published_ones() {
        // transparency-dev/merkle proof/verify_test.go (its leaf numbers are 1-based).
        let leaves = reference_leaves();
        let inclusion: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let log = MerkleLog::from_leaves(leaves.clone());
        for (index, size, expected) in inclusion {
            let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
            // §2.1.3.1 PATH(m, D[n]).
            assert_eq!(
                inclusion_proof(index, &leaves[..size as usize]).unwrap(),
                expected
            );
            assert_eq!(log.inclusion_proof(index, size).unwrap(), expected);
            // §2.1.3.2.
            let root = h(REFERENCE_ROOTS[size as usize]);
            verify_inclusion(index, size, &leaves[index as usize], &expected, &root).unwrap();
        }
        let consistency: [(u64, u64, &[&str]); 4] = [
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                7,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (m, n, expected) in consistency {
            let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
            // §2.1.4.1 PROOF(m, D[n]).
            assert_eq!(
                consistency_proof(m, &leaves[..n as usize]).unwrap(),
                expected
            );
            assert_eq!(log.consistency_proof(m, n).unwrap(), expected);
            // §2.1.4.2.
            let (root_m, root_n) = (
                h(REFERENCE_ROOTS[m as usize]),
                h(REFERENCE_ROOTS[n as usize]),
            );
            verify_consistency(m, n, &root_m, &root_n, &expected).unwrap();
        }
    }

    #[test]
    fn every_inclusion_proof_of_trees_up_to_40_leaves_verifies_and_tampering_fails() {
        let all = leaves(45);
        for size in 1..=40u64 {
            let tree = &all[..size as usize];
            let root = root(tree);
            let log = MerkleLog::from_leaves(tree.to_vec());
            for index in 0..size {
                let leaf = tree[index as usize];
                let proof = inclusion_proof(index, tree).unwrap();
                assert_eq!(log.inclusion_proof(index, size).unwrap(), proof);
                // §2.1.3.2: the path leads from the leaf to the root.
                assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));

                // A flipped byte anywhere in the path.
                for at in 0..proof.len() {
                    for byte in [0, 17, 31] {
                        let bad = flipped(&proof, at, byte);
                        assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                    }
                }
                // Another leaf, another root.
                let other = leaf_hash(b"not in the log");
                assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
                assert!(
                    verify_inclusion(index, size, &leaf, &proof, &flipped(&[root], 0, 5)[0])
                        .is_err()
                );
                // Every other index of the same tree: the path's sides spell out the leaf.
                for wrong in (0..size + 2).filter(|&i| i != index) {
                    assert!(
                        verify_inclusion(wrong, size, &leaf, &proof, &root).is_err(),
                        "index {index} verified as {wrong} in size {size}"
                    );
                }
                // Other sizes fail unless they walk the very same shape (the root, signed with
                // its size in a checkpoint, is what binds the size).
                for wrong in (0..size * 2 + 2).filter(|&n| n != size) {
                    let verified = verify_inclusion(index, wrong, &leaf, &proof, &root).is_ok();
                    let same_shape = index < wrong && sides(index, wrong) == sides(index, size);
                    assert_eq!(
                        verified, same_shape,
                        "index {index}, size {size} as {wrong}"
                    );
                }
                assert!(verify_inclusion(index, size * 2, &leaf, &proof, &root).is_err());
                // A hash removed, added at the end, or added in front.
                if let Some((_, shorter)) = proof.split_last() {
                    assert_eq!(
                        verify_inclusion(index, size, &leaf, shorter, &root),
                        Err(MerkleError::ProofTooShort)
                    );
                }
                let longer = [&proof[..], &[root]].concat();
                assert_eq!(
                    verify_inclusion(index, size, &leaf, &longer, &root),
                    Err(MerkleError::ProofTooLong)
                );
                let prefixed = [&[leaf][..], &proof].concat();
                assert!(verify_inclusion(index, size, &leaf, &prefixed, &root).is_err());
            }
            assert_eq!(
                inclusion_proof(size, tree),
                Err(MerkleError::IndexOutOfRange { index: size, size })
            );
        }
    }

    #[test]
    fn every_consistency_proof_between_trees_up_to_40_leaves_verifies_and_tampering_fails() {
        let all = leaves(40);
        let roots: Vec<Hash> = (0..=40).map(|n| root(&all[..n])).collect();
        let log = MerkleLog::from_leaves(all.clone());
        for n in 1..=40u64 {
            let tree = &all[..n as usize];
            let root_n = roots[n as usize];
            for m in 1..=n {
                let root_m = roots[m as usize];
                let proof = consistency_proof(m, tree).unwrap();
                assert_eq!(log.consistency_proof(m, n).unwrap(), proof);
                // §2.1.4.2: the proof rebuilds both roots.
                assert_eq!(verify_consistency(m, n, &root_m, &root_n, &proof), Ok(()));

                if m == n {
                    // Nothing to prove: the same tree has the same root.
                    assert!(proof.is_empty());
                    let other = roots[n as usize - 1];
                    assert!(verify_consistency(m, n, &other, &root_n, &proof).is_err());
                    assert_eq!(
                        verify_consistency(m, n, &root_m, &root_n, &[root_m]),
                        Err(MerkleError::ProofTooLong)
                    );
                    continue;
                }
                for at in 0..proof.len() {
                    for byte in [0, 17, 31] {
                        let bad = flipped(&proof, at, byte);
                        assert!(verify_consistency(m, n, &root_m, &root_n, &bad).is_err());
                    }
                }
                // Roots that are not the trees' own, or swapped.
                for (old, new) in [
                    (root_n, root_m),
                    (roots[m as usize - 1], root_n),
                    (root_m, roots[n as usize - 1]),
                    (flipped(&[root_m], 0, 9)[0], root_n),
                    (root_m, flipped(&[root_n], 0, 9)[0]),
                ] {
                    assert!(verify_consistency(m, n, &old, &new, &proof).is_err());
                }
                // The earlier size changed: the earlier root no longer comes out.
                for wrong in (1..n).filter(|&w| w != m) {
                    assert!(
                        verify_consistency(wrong, n, &root_m, &root_n, &proof).is_err(),
                        "{m}→{n} verified as {wrong}→{n}"
                    );
                }
                assert!(verify_consistency(m, n * 2, &root_m, &root_n, &proof).is_err());
                // Empty, truncated, extended, prefixed.
                assert_eq!(
                    verify_consistency(m, n, &root_m, &root_n, &[]),
                    Err(MerkleError::ProofTooShort)
                );
                let (_, shorter) = proof.split_last().unwrap();
                assert!(verify_consistency(m, n, &root_m, &root_n, shorter).is_err());
                for extra in [root_m, root_n, proof[0]] {
                    let longer = [&proof[..], &[extra]].concat();
                    assert_eq!(
                        verify_consistency(m, n, &root_m, &root_n, &longer),
                        Err(MerkleError::ProofTooLong)
                    );
                    let prefixed = [&[extra][..], &proof].concat();
                    assert!(verify_consistency(m, n, &root_m, &root_n, &prefixed).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_from_the_empty_tree_or_to_a_smaller_one_is_as_documented() {
        let tree = leaves(5);
        let root_5 = root(&tree);
        assert_eq!(consistency_proof(0, &tree).unwrap(), Vec::<Hash>::new());
        assert_eq!(
            verify_consistency(0, 5, &empty_root(), &root_5, &[]),
            Ok(())
        );
        assert_eq!(
            verify_consistency(0, 5, &root_5, &root_5, &[]),
            Err(MerkleError::OldRootMismatch)
        );
        assert_eq!(
            consistency_proof(6, &tree),
            Err(MerkleError::SizesOutOfOrder { old: 6, new: 5 })
        );
        assert_eq!(
            verify_consistency(5, 4, &root_5, &root_5, &[]),
            Err(MerkleError::SizesOutOfOrder { old: 5, new: 4 })
        );
        let log = MerkleLog::from_leaves(tree);
        assert_eq!(
            log.consistency_proof(2, 6),
            Err(MerkleError::SizeBeyondTree {
                size: 6,
                available: 5
            })
        );
        assert_eq!(
            log.inclusion_proof(0, 6),
            Err(MerkleError::SizeBeyondTree {
                size: 6,
                available: 5
            })
        );
        assert_eq!(
            log.root_at(6),
            Err(MerkleError::SizeBeyondTree {
                size: 6,
                available: 5
            })
        );
        assert_eq!(
            verify_inclusion(0, 0, &root_5, &[], &root_5),
            Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
        );
    }

    #[test]
    fn a_growing_log_matches_the_slice_functions_at_every_size() {
        let all = leaves(70);
        let mut log = MerkleLog::new();
        for (i, leaf) in all.iter().enumerate() {
            assert_eq!(log.push(*leaf), i as u64);
            let n = log.len();
            assert_eq!(log.root(), root(&all[..n as usize]));
            assert_eq!(log, MerkleLog::from_leaves(all[..n as usize].to_vec()));
            assert_eq!(log.leaf(i as u64), Some(*leaf));
            for size in 1..=n {
                let tree = &all[..size as usize];
                assert_eq!(log.root_at(size).unwrap(), root(tree));
                for index in [0, size / 2, size - 1] {
                    assert_eq!(
                        log.inclusion_proof(index, size).unwrap(),
                        inclusion_proof(index, tree).unwrap()
                    );
                }
                for m in [1, size / 3 + 1, size - 1] {
                    assert_eq!(
                        log.consistency_proof(m, size).unwrap(),
                        consistency_proof(m, tree).unwrap()
                    );
                }
            }
        }
        assert_eq!(log.leaves(), &all[..]);
        assert_eq!(log.leaf(70), None);
        assert!(!log.is_empty() && MerkleLog::new().is_empty());
        assert_eq!(MerkleLog::default(), MerkleLog::from_leaves(Vec::new()));
        assert!(format!("{log:?}").starts_with("MerkleLog { len: 70, root: "));
    }

    #[test]
    fn a_log_of_100000_leaves_gives_proofs_from_its_stored_subtrees() {
        let n = 100_000u64;
        let all = leaves(n);
        let mut log = MerkleLog::new();
        for leaf in &all {
            log.push(*leaf);
        }
        let root_n = root(&all);
        assert_eq!(log.root(), root_n);
        assert_eq!(log, MerkleLog::from_leaves(all.clone()));
        // One proof against the O(n) definition, then many from the log alone.
        assert_eq!(
            log.inclusion_proof(12_345, n).unwrap(),
            inclusion_proof(12_345, &all).unwrap()
        );
        assert_eq!(
            log.consistency_proof(65_537, n).unwrap(),
            consistency_proof(65_537, &all).unwrap()
        );
        for index in (0..n).step_by(997).chain([n - 1]) {
            let proof = log.inclusion_proof(index, n).unwrap();
            assert!(proof.len() <= 17, "at most ⌈log₂ n⌉ hashes");
            verify_inclusion(index, n, &all[index as usize], &proof, &root_n).unwrap();
        }
        for m in (1..n).step_by(4_999).chain([65_536, n - 1]) {
            let root_m = log.root_at(m).unwrap();
            let proof = log.consistency_proof(m, n).unwrap();
            verify_consistency(m, n, &root_m, &root_n, &proof).unwrap();
            let inner = log.inclusion_proof(m / 2, m).unwrap();
            verify_inclusion(m / 2, m, &all[m as usize / 2], &inner, &root_m).unwrap();
        }
    }

    #[test]
    fn a_checkpoint_note_round_trips_and_malformed_ones_are_refused() {
        let root = h(REFERENCE_ROOTS[8]);
        let note = checkpoint_note("tica.example/certificates", 8, &root);
        assert_eq!(
            note,
            "tica.example/certificates\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqt\
             L0lgz+Nw7/RgQyg=\n"
        );
        assert_eq!(
            parse_checkpoint_note(&note).unwrap(),
            ("tica.example/certificates".to_owned(), 8, root)
        );
        let empty = checkpoint_note("o", 0, &empty_root());
        assert_eq!(parse_checkpoint_note(&empty).unwrap().1, 0);
        for bad in [
            "tica.example/certificates\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
            "tica.example/certificates\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "tica.example/certificates\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "tica.example/certificates\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "tica.example/certificates\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",
            "tica.example/certificates\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n",
            "tica.example/certificates\n8\nAAAA\n",
            "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "tica.example/certificates\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nextension\n",
            "tica.example/certificates\n18446744073709551616\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        ] {
            assert!(
                matches!(
                    parse_checkpoint_note(bad),
                    Err(MerkleError::MalformedCheckpoint(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "one non-empty line")]
    fn a_checkpoint_origin_cannot_span_lines() {
        checkpoint_note("tica\n9", 1, &empty_root());
    }
}
