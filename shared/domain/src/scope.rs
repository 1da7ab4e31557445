//! Access scopes as materialised paths, for authorisation and SQL range queries.
//!
//! A scope is the path from the province down to a jurisdiction, each 6-digit
//! [`DivisionCode`] followed by `/`, optionally ending in a school segment `s` + school code:
//!
//! ```text
//! /340000/                              安徽省
//! /340000/341300/341324/                泗县 (宿州市)
//! /340000/341300/341324/s3413241234/    a school in 泗县
//! /110000/110105/                       朝阳区 (directly under 北京市)
//! ```
//!
//! Every segment ends with `/` and no segment contains `/`, so "path A is a string prefix of
//! path B" is exactly "A's segments are the leading segments of B's": `/34/` can never be a
//! prefix of `/340000/…`. [`ScopePath::range`] turns containment into a half-open string range
//! `lo <= p < hi` for SQL; compare with byte order (PostgreSQL: `COLLATE "C"`; SQLite's default
//! `BINARY` collation already is).
//!
//! A school may sit under any jurisdiction level, not only a county: Ningxia's notice is
//! addressed to "厅直属中小学", schools run directly by the region's education department
//! (《宁夏实施方案》, the heading of its notice 宁教师〔2020〕168号).

use std::fmt;

use crate::division::DivisionCode;
use crate::school::validate_school_code;

/// Marks the school segment of a path.
const SCHOOL_MARK: char = 's';

/// A canonical scope path: a jurisdiction's ancestry, optionally followed by one school.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopePath(String);

impl ScopePath {
    /// The scope of a jurisdiction: `/` + each code of its ancestry + `/`.
    pub fn for_jurisdiction(code: DivisionCode) -> ScopePath {
        let mut path = String::with_capacity(1 + 7 * 3);
        path.push('/');
        for ancestor in code.ancestry() {
            path.push_str(ancestor.as_str());
            path.push('/');
        }
        ScopePath(path)
    }

    /// The scope of a school under `jurisdiction`: the jurisdiction's path + `s<code>/`.
    ///
    /// # Panics
    ///
    /// If `school_code` fails [`validate_school_code`]; validate it first, or use
    /// [`ScopePath::try_for_school`].
    pub fn for_school(jurisdiction: DivisionCode, school_code: &str) -> ScopePath {
        match ScopePath::try_for_school(jurisdiction, school_code) {
            Ok(path) => path,
            Err(message) => panic!("ScopePath::for_school: {message}"),
        }
    }

    /// Like [`ScopePath::for_school`], returning the school-code error instead of panicking.
    pub fn try_for_school(
        jurisdiction: DivisionCode,
        school_code: &str,
    ) -> Result<ScopePath, String> {
        validate_school_code(school_code)?;
        let ScopePath(mut path) = ScopePath::for_jurisdiction(jurisdiction);
        path.push(SCHOOL_MARK);
        path.push_str(school_code);
        path.push('/');
        Ok(ScopePath(path))
    }

    /// The path above every province: every scope lies inside it. For a service's own scans
    /// across the whole tree; never a caller's scope (tokens act for a jurisdiction), and
    /// [`ScopePath::parse`] does not produce it.
    pub fn everything() -> ScopePath {
        ScopePath("/".to_owned())
    }

    /// Parses a path in canonical form only (what the constructors produce), else `None`.
    ///
    /// The division segments must be exactly the ancestry of the deepest one, so each scope
    /// has one spelling.
    pub fn parse(input: &str) -> Option<ScopePath> {
        let inner = input.strip_prefix('/')?.strip_suffix('/')?;
        let mut segments: Vec<&str> = inner.split('/').collect();
        let school = match segments.last() {
            Some(last) if last.starts_with(SCHOOL_MARK) => {
                let code = &last[SCHOOL_MARK.len_utf8()..];
                segments.pop();
                Some(code)
            }
            _ => None,
        };
        let deepest = DivisionCode::parse(segments.last()?).ok()?;
        let rebuilt = match school {
            Some(code) => ScopePath::try_for_school(deepest, code).ok()?,
            None => ScopePath::for_jurisdiction(deepest),
        };
        (rebuilt.0 == input).then_some(rebuilt)
    }

    /// The path as a string, e.g. `/340000/341300/341324/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether `other` is this scope or lies below it (prefix on whole segments).
    pub fn contains(&self, other: &ScopePath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// Half-open string bounds `(lo, hi)`: for any string `p`, `lo <= p < hi` in byte order
    /// exactly when `p` starts with this path, i.e. when this scope contains `p`.
    ///
    /// `lo` is the path itself; `hi` is the path with its final `/` (0x2F) replaced by the
    /// next byte, `0` (0x30). SQL: `WHERE scope >= $lo AND scope < $hi`, under byte-order
    /// collation (PostgreSQL `COLLATE "C"`, SQLite `BINARY`).
    ///
    /// ```
    /// use tica_domain::{DivisionCode, ScopePath};
    ///
    /// let sixian = ScopePath::for_jurisdiction(DivisionCode::parse("341324").unwrap());
    /// let (lo, hi) = sixian.range();
    /// assert_eq!((lo.as_str(), hi.as_str()), ("/340000/341300/341324/", "/340000/341300/3413240"));
    /// let school = "/340000/341300/341324/s3413241234/";
    /// assert!(lo.as_str() <= school && school < hi.as_str());
    /// ```
    pub fn range(&self) -> (String, String) {
        let lo = self.0.clone();
        let mut hi = self.0.clone();
        hi.pop();
        hi.push('0');
        (lo, hi)
    }

    /// Number of segments: 1 for a province, 3 for a county under a city, +1 for a school.
    pub fn depth(&self) -> usize {
        self.0.matches('/').count() - 1
    }

    /// The deepest jurisdiction segment (for a school: the jurisdiction it sits under).
    pub fn jurisdiction_code(&self) -> Option<DivisionCode> {
        self.segments()
            .rfind(|segment| !segment.starts_with(SCHOOL_MARK))
            .and_then(|segment| DivisionCode::parse(segment).ok())
    }

    /// The school code, when this is a school's scope.
    pub fn school_code(&self) -> Option<&str> {
        self.segments()
            .next_back()
            .and_then(|segment| segment.strip_prefix(SCHOOL_MARK))
    }

    /// Whether this is a school's scope.
    pub fn is_school(&self) -> bool {
        self.school_code().is_some()
    }

    /// The enclosing scope, or `None` for a province.
    pub fn parent(&self) -> Option<ScopePath> {
        if self.depth() <= 1 {
            return None;
        }
        let without_slash = &self.0[..self.0.len() - 1];
        let cut = without_slash.rfind('/')?;
        Some(ScopePath(self.0[..=cut].to_owned()))
    }

    /// The segments between the slashes, top down.
    fn segments(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0[1..self.0.len() - 1].split('/')
    }
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serialised as its string; deserialised only in canonical form, so a stored record whose path
/// is corrupt fails to load instead of granting a wider scope.
impl serde::Serialize for ScopePath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ScopePath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ScopePath::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("not a canonical scope path"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn jurisdiction(s: &str) -> ScopePath {
        ScopePath::for_jurisdiction(code(s))
    }

    /// Deterministic sample of a few hundred canonical paths, with tricky school codes:
    /// prefixes of one another, hyphens (0x2D, below `/`), letters of both cases.
    fn sample_paths() -> Vec<ScopePath> {
        let jurisdictions = [
            "110000", "110101", "110105", "120000", "120101", "340000", "341300", "341302",
            "341324", "341400", "640000", "640100", "640104", "640181", "420000", "429004",
            "500000", "500229", "820000",
        ];
        let schools = [
            "1",
            "12",
            "123",
            "12-3",
            "1-",
            "1A",
            "1a",
            "A",
            "Z",
            "z",
            "3413241234",
            "34132412340",
            "0",
            "9",
        ];
        let mut paths = Vec::new();
        for j in jurisdictions {
            let c = code(j);
            paths.push(ScopePath::for_jurisdiction(c));
            for school in schools {
                paths.push(ScopePath::for_school(c, school));
            }
        }
        paths
    }

    /// Strings that are not canonical paths but may sit in a column next to them.
    fn odd_strings() -> Vec<String> {
        let mut odd: Vec<String> = [
            "",
            "/",
            "//",
            "/34/",
            "/340/",
            "/3400000/",
            "/340000",
            "/340000/341300",
            "/340000/3413000/",
            "/340000/341300/341324/s",
            "/340000/341300/341324/s1",
            "/340000/341300/3413240/",
            "/340000/341300/341324/x/",
            "/340000/341300/341324//",
            "/340000/341300/341324/s1/extra/",
            "/340000.",
            "/3400000",
            "/340000~",
            "~",
            "0",
            "/340000/341300/341324/\u{7f}",
            "/340000/341300/341324/\u{4e2d}/",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for path in sample_paths() {
            let (_, hi) = path.range();
            odd.push(hi.clone());
            odd.push(format!("{hi}/"));
            let mut shorter = path.as_str().to_owned();
            shorter.pop();
            odd.push(shorter);
        }
        odd
    }

    #[test]
    fn a_county_path_lists_its_ancestry() {
        assert_eq!(jurisdiction("341324").as_str(), "/340000/341300/341324/");
        assert_eq!(jurisdiction("340000").as_str(), "/340000/");
        assert_eq!(jurisdiction("110105").as_str(), "/110000/110105/");
        assert_eq!(jurisdiction("429004").as_str(), "/420000/429004/");
    }

    #[test]
    fn a_school_path_adds_an_s_segment() {
        let school = ScopePath::for_school(code("341324"), "3413241234");
        assert_eq!(school.as_str(), "/340000/341300/341324/s3413241234/");
        assert_eq!(school.school_code(), Some("3413241234"));
        assert_eq!(school.jurisdiction_code(), Some(code("341324")));
        assert!(school.is_school());
        assert_eq!(school.depth(), 4);
    }

    #[test]
    fn an_invalid_school_code_is_refused_by_the_fallible_constructor() {
        assert!(ScopePath::try_for_school(code("341324"), "12/3").is_err());
        assert!(ScopePath::try_for_school(code("341324"), "").is_err());
        assert!(ScopePath::try_for_school(code("341324"), "-1").is_err());
    }

    #[test]
    #[should_panic(expected = "ScopePath::for_school")]
    fn the_infallible_school_constructor_panics_on_an_invalid_code() {
        let _ = ScopePath::for_school(code("341324"), "a/b");
    }

    #[test]
    fn depth_jurisdiction_and_school_of_jurisdiction_paths() {
        let county = jurisdiction("640104");
        assert_eq!(county.depth(), 3);
        assert_eq!(county.jurisdiction_code(), Some(code("640104")));
        assert_eq!(county.school_code(), None);
        assert!(!county.is_school());
        assert_eq!(jurisdiction("640000").depth(), 1);
        assert_eq!(jurisdiction("110105").depth(), 2);
    }

    #[test]
    fn parent_walks_up_one_segment() {
        let school = ScopePath::for_school(code("341324"), "3413241234");
        let county = school.parent().unwrap();
        assert_eq!(county, jurisdiction("341324"));
        assert_eq!(county.parent().unwrap(), jurisdiction("341300"));
        assert_eq!(
            jurisdiction("341300").parent().unwrap(),
            jurisdiction("340000")
        );
        assert_eq!(jurisdiction("340000").parent(), None);
    }

    #[test]
    fn a_path_deserialises_only_in_canonical_form() {
        let county = jurisdiction("341324");
        let back: ScopePath = serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
            serde::de::value::Error,
        >::new(county.as_str()))
        .unwrap();
        assert_eq!(back, county);
        for corrupt in ["/", "", "garbage", "/340000/341324/"] {
            let parsed: Result<ScopePath, _> =
                serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                    serde::de::value::Error,
                >::new(corrupt));
            assert!(parsed.is_err(), "{corrupt:?}");
        }
    }

    #[test]
    fn everything_contains_every_scope_and_its_range_covers_every_path() {
        let all = ScopePath::everything();
        let county = ScopePath::for_jurisdiction(DivisionCode::parse("341324").unwrap());
        assert!(all.contains(&county));
        assert!(!county.contains(&all));
        let (lo, hi) = all.range();
        assert!(lo.as_str() <= county.as_str() && county.as_str() < hi.as_str());
        assert_eq!(ScopePath::parse("/"), None, "no caller names it");
    }

    #[test]
    fn parse_accepts_exactly_what_the_constructors_produce() {
        for path in sample_paths() {
            assert_eq!(ScopePath::parse(path.as_str()), Some(path.clone()));
        }
        for odd in odd_strings() {
            let parsed = ScopePath::parse(&odd);
            if let Some(p) = parsed {
                assert_eq!(p.as_str(), odd);
            }
        }
        for bad in [
            "",
            "/",
            "//",
            "340000/",
            "/340000",
            "/341300/",
            "/340000/341324/",
            "/340000/341300/341324/s/",
            "/340000/341300/341324/s1/2/",
            "/340000/ 341300/",
            "/340000/341300 /",
            "/110000/110100/110105/",
            "/s123/",
            "/340000/s1/341300/",
        ] {
            assert_eq!(ScopePath::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_short_segment_never_contains_a_longer_one_that_shares_its_digits() {
        // "/34/" is a string prefix of nothing that starts "/340…": the slash must match.
        let province = jurisdiction("340000");
        let sample = sample_paths();
        let school_12 = ScopePath::for_school(code("341324"), "12");
        let school_123 = ScopePath::for_school(code("341324"), "123");
        assert!(!school_12.contains(&school_123));
        assert!(!school_123.contains(&school_12));
        for p in &sample {
            let in_anhui = p.as_str().starts_with("/340000/");
            assert_eq!(province.contains(p), in_anhui, "{p}");
        }
    }

    #[test]
    fn contains_agrees_with_segment_prefixes() {
        let sample = sample_paths();
        let segments = |p: &ScopePath| -> Vec<String> {
            p.as_str()
                .trim_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect()
        };
        for a in &sample {
            for b in &sample {
                let (sa, sb) = (segments(a), segments(b));
                let by_segments = sa.len() <= sb.len() && sb[..sa.len()] == sa[..];
                assert_eq!(a.contains(b), by_segments, "{a} {b}");
            }
        }
    }

    #[test]
    fn contains_agrees_with_jurisdiction_ancestry() {
        let sample = sample_paths();
        for a in sample.iter().filter(|p| !p.is_school()) {
            let a_code = a.jurisdiction_code().unwrap();
            for b in &sample {
                let b_code = b.jurisdiction_code().unwrap();
                // Schools included: a school lies in every scope of its jurisdiction's ancestry.
                let expected = b_code.ancestry().contains(&a_code);
                assert_eq!(a.contains(b), expected, "{a} {b}");
            }
        }
    }

    #[test]
    fn a_scope_contains_itself_and_its_schools_but_not_its_parent() {
        let county = jurisdiction("341324");
        assert!(county.contains(&county));
        assert!(county.contains(&ScopePath::for_school(code("341324"), "1")));
        assert!(!county.contains(&jurisdiction("341300")));
        assert!(!county.contains(&jurisdiction("341302")));
        assert!(jurisdiction("110000").contains(&jurisdiction("110105")));
        assert!(!jurisdiction("110000").contains(&jurisdiction("120101")));
    }

    #[test]
    fn range_bounds_select_exactly_the_contained_paths() {
        let sample = sample_paths();
        let mut candidates: Vec<String> = sample.iter().map(|p| p.as_str().to_owned()).collect();
        candidates.extend(odd_strings());
        assert!(sample.len() >= 250, "{}", sample.len());
        for scope in &sample {
            let (lo, hi) = scope.range();
            assert!(lo < hi);
            for p in &candidates {
                let in_range = lo.as_str() <= p.as_str() && p.as_str() < hi.as_str();
                assert_eq!(in_range, p.starts_with(scope.as_str()), "{scope} {p}");
                if let Some(path) = ScopePath::parse(p) {
                    assert_eq!(in_range, scope.contains(&path), "{scope} {p}");
                }
            }
        }
    }

    #[test]
    fn range_replaces_the_final_slash_with_the_next_byte() {
        let (lo, hi) = jurisdiction("341324").range();
        assert_eq!(lo, "/340000/341300/341324/");
        assert_eq!(hi, "/340000/341300/3413240");
        assert_eq!(b'/' + 1, b'0');
    }

    #[test]
    fn sorting_paths_keeps_each_subtree_contiguous() {
        let mut sample = sample_paths();
        sample.sort();
        for scope in &sample {
            let positions: Vec<usize> = sample
                .iter()
                .enumerate()
                .filter(|(_, p)| scope.contains(p))
                .map(|(i, _)| i)
                .collect();
            let first = positions[0];
            assert_eq!(
                positions,
                (first..first + positions.len()).collect::<Vec<_>>()
            );
            assert_eq!(
                &sample[first], scope,
                "a scope sorts before its descendants"
            );
        }
    }
}
