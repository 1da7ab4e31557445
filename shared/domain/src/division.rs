//! GB/T 2260 administrative division codes (行政区划代码) and the jurisdiction tree.
//!
//! A code is 6 digits: province part (2), city part (2), county part (2). The documents'
//! levels (《宁夏实施方案》§二(二): 自治区、市、县(区)): province-level unit → city → county or
//! district → school, and in the municipalities (直辖市) the districts sit directly under the
//! municipality.
//!
//! Two shapes skip the city level:
//! - municipalities 北京 11, 天津 12, 上海 31, 重庆 50: `110105` 朝阳区 sits under `110000`;
//!   city-level codes such as `110100` (市辖区) or `500200` (县) are statistical groupings,
//!   not jurisdictions;
//! - province-administered county-level units (省直辖县级行政区划), city part `90`:
//!   `429004` 仙桃市, `419001` 济源市, `469001` 五指山市 sit under their province; the
//!   grouping code `xx9000` is not a jurisdiction.

use std::fmt;
use std::str::FromStr;

/// The level of a jurisdiction in the tree (schools sit below counties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JurisdictionLevel {
    /// Province-level unit: 省, 自治区, 直辖市.
    Province,
    /// City level: 地级市, 地区, 自治州, 盟.
    City,
    /// County level: 县, 区, 县级市, 旗.
    County,
}

impl JurisdictionLevel {
    /// All levels, from the top down.
    pub const ALL: [JurisdictionLevel; 3] = [
        JurisdictionLevel::Province,
        JurisdictionLevel::City,
        JurisdictionLevel::County,
    ];

    /// Chinese label: 省级 / 市级 / 县级.
    pub fn label_zh(self) -> &'static str {
        match self {
            JurisdictionLevel::Province => "省级",
            JurisdictionLevel::City => "市级",
            JurisdictionLevel::County => "县级",
        }
    }

    /// Stable English key: `province` / `city` / `county`.
    pub fn key(self) -> &'static str {
        match self {
            JurisdictionLevel::Province => "province",
            JurisdictionLevel::City => "city",
            JurisdictionLevel::County => "county",
        }
    }

    /// Parses a key or a Chinese label (省级, 自治区级, 市级, 县级, 区县级 …), trimmed, case-insensitive.
    pub fn from_label(label: &str) -> Option<JurisdictionLevel> {
        let label = label.trim();
        let lower = label.to_ascii_lowercase();
        JurisdictionLevel::ALL.into_iter().find(|level| {
            lower == level.key()
                || label == level.label_zh()
                || match level {
                    JurisdictionLevel::Province => {
                        matches!(label, "省" | "自治区" | "自治区级" | "直辖市")
                    }
                    JurisdictionLevel::City => matches!(label, "市" | "地市" | "地市级"),
                    JurisdictionLevel::County => {
                        matches!(
                            label,
                            "县" | "县区" | "区县" | "县(区)" | "县（区）" | "县区级" | "区县级"
                        )
                    }
                }
        })
    }
}

/// A syntactically valid GB/T 2260 code: 6 ASCII digits, province part in 11..=82.
///
/// Ordering is numeric. Whether a code may serve as a jurisdiction is a separate check,
/// [`DivisionCode::validate_as_jurisdiction`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode([u8; 6]);

/// Why a string is not a usable division code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DivisionCodeError {
    /// Not exactly 6 ASCII digits.
    #[error("行政区划代码应为6位数字 (division code must be exactly 6 ASCII digits)")]
    NotSixDigits,
    /// The province part (first 2 digits) is outside 11..=82 (this covers all zeros).
    #[error(
        "行政区划代码前两位（省级）应在11至82之间，实为{province_part} (province part must be within 11..=82, got {province_part})"
    )]
    BadProvincePart {
        /// The first two digits given.
        province_part: String,
    },
    /// A city-level code inside a municipality (直辖市), e.g. 110100 or 500200.
    #[error(
        "{code}是直辖市下的市级统计代码，不是管辖单位；直辖市的区县直接隶属于直辖市 ({code} is a city-level code inside a municipality; districts and counties sit directly under the municipality)"
    )]
    CityLevelInMunicipality {
        /// The refused code.
        code: DivisionCode,
    },
    /// The `xx9000` grouping code of province-administered county-level units.
    #[error(
        "{code}是省直辖县级行政区划的汇总代码，不是管辖单位 ({code} groups the province-administered county-level units and is not a jurisdiction)"
    )]
    ProvinceAdministeredGrouping {
        /// The refused code.
        code: DivisionCode,
    },
    /// A county-level code with city part `00` (e.g. 440001), which GB/T 2260 never assigns.
    #[error(
        "{code}的市级部分为00，不是有效的县级代码 ({code} has city part 00 and is not a valid county-level code)"
    )]
    CountyWithoutCity {
        /// The refused code.
        code: DivisionCode,
    },
}

/// Province parts of the four municipalities (直辖市): 北京 11, 天津 12, 上海 31, 重庆 50.
pub const MUNICIPALITY_PROVINCE_PARTS: [u8; 4] = [11, 12, 31, 50];

/// Whether a 2-digit province part (e.g. `11`) is a municipality (直辖市).
pub fn is_municipality(province_part: u8) -> bool {
    MUNICIPALITY_PROVINCE_PARTS.contains(&province_part)
}

impl DivisionCode {
    /// Parses 6 ASCII digits (surrounding whitespace trimmed) with province part 11..=82.
    pub fn parse(input: &str) -> Result<DivisionCode, DivisionCodeError> {
        let bytes = input.trim().as_bytes();
        let digits: [u8; 6] = bytes
            .try_into()
            .map_err(|_| DivisionCodeError::NotSixDigits)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(DivisionCodeError::NotSixDigits);
        }
        let code = DivisionCode(digits);
        if !(11..=82).contains(&code.province_part()) {
            return Err(DivisionCodeError::BadProvincePart {
                province_part: code.as_str()[..2].to_owned(),
            });
        }
        Ok(code)
    }

    /// The 6 digits as a string slice.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }

    /// The code as a number, e.g. `341324`.
    pub fn as_u32(&self) -> u32 {
        self.0
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
    }

    /// The province part, first 2 digits as a number (e.g. `34`).
    pub fn province_part(&self) -> u8 {
        (self.0[0] - b'0') * 10 + (self.0[1] - b'0')
    }

    /// The city part, digits 3–4 as a number (`0` for a province, `90` for province-administered).
    pub fn city_part(&self) -> u8 {
        (self.0[2] - b'0') * 10 + (self.0[3] - b'0')
    }

    /// The county part, digits 5–6 as a number (`0` for a province or a city).
    pub fn county_part(&self) -> u8 {
        (self.0[4] - b'0') * 10 + (self.0[5] - b'0')
    }

    /// The level: ends with `0000` → Province, with `00` → City, else County.
    pub fn level(&self) -> JurisdictionLevel {
        if self.city_part() == 0 && self.county_part() == 0 {
            JurisdictionLevel::Province
        } else if self.county_part() == 0 {
            JurisdictionLevel::City
        } else {
            JurisdictionLevel::County
        }
    }

    /// Whether this code lies in a municipality (直辖市: 11, 12, 31, 50).
    pub fn is_in_municipality(&self) -> bool {
        is_municipality(self.province_part())
    }

    /// Whether this is a province-administered county-level unit (city part `90`, e.g. 429004).
    pub fn is_province_administered_county(&self) -> bool {
        self.level() == JurisdictionLevel::County && self.city_part() == 90
    }

    /// The province-level code containing this code (`xx0000`).
    pub fn province(&self) -> DivisionCode {
        DivisionCode([self.0[0], self.0[1], b'0', b'0', b'0', b'0'])
    }

    /// The parent in the jurisdiction tree.
    ///
    /// Province → `None`; City → its province; County → its province when in a municipality,
    /// when province-administered (city part `90`) or when the city part is `00`, else its
    /// city (first 4 digits + `00`).
    pub fn expected_parent(&self) -> Option<DivisionCode> {
        match self.level() {
            JurisdictionLevel::Province => None,
            JurisdictionLevel::City => Some(self.province()),
            JurisdictionLevel::County => {
                if self.is_in_municipality() || self.city_part() == 90 || self.city_part() == 0 {
                    Some(self.province())
                } else {
                    Some(DivisionCode([
                        self.0[0], self.0[1], self.0[2], self.0[3], b'0', b'0',
                    ]))
                }
            }
        }
    }

    /// The chain from the province down to and including this code.
    pub fn ancestry(&self) -> Vec<DivisionCode> {
        let mut chain = vec![*self];
        let mut current = *self;
        while let Some(parent) = current.expected_parent() {
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// Checks the code may be a jurisdiction (a node of the tree with an office).
    ///
    /// Refuses city-level codes inside municipalities (110100, 500200), the `xx9000` grouping
    /// of province-administered units, and county-level codes with city part `00`.
    pub fn validate_as_jurisdiction(&self) -> Result<(), DivisionCodeError> {
        match self.level() {
            JurisdictionLevel::Province => Ok(()),
            JurisdictionLevel::City if self.is_in_municipality() => {
                Err(DivisionCodeError::CityLevelInMunicipality { code: *self })
            }
            JurisdictionLevel::City if self.city_part() == 90 => {
                Err(DivisionCodeError::ProvinceAdministeredGrouping { code: *self })
            }
            JurisdictionLevel::City => Ok(()),
            JurisdictionLevel::County if self.city_part() == 0 => {
                Err(DivisionCodeError::CountyWithoutCity { code: *self })
            }
            JurisdictionLevel::County => Ok(()),
        }
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DivisionCode({})", self.as_str())
    }
}

impl FromStr for DivisionCode {
    type Err = DivisionCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DivisionCode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn codes(list: &[&str]) -> Vec<DivisionCode> {
        list.iter().map(|s| code(s)).collect()
    }

    #[test]
    fn six_digits_with_a_real_province_part_are_accepted() {
        for s in [
            "110000", "110101", "341324", "640104", "820000", "429004", " 340000 ",
        ] {
            assert!(DivisionCode::parse(s).is_ok(), "{s}");
        }
        assert_eq!(code("341324").to_string(), "341324");
        assert_eq!(code("341324").as_u32(), 341_324);
        assert_eq!(format!("{:?}", code("341324")), "DivisionCode(341324)");
        assert_eq!("640104".parse::<DivisionCode>(), Ok(code("640104")));
    }

    #[test]
    fn anything_but_six_ascii_digits_is_refused() {
        for s in [
            "",
            "34132",
            "3413240",
            "34132a",
            "３４１３２４",
            "34 324",
            "-34132",
        ] {
            assert_eq!(
                DivisionCode::parse(s),
                Err(DivisionCodeError::NotSixDigits),
                "{s:?}"
            );
        }
    }

    #[test]
    fn province_parts_outside_11_to_82_are_refused() {
        for s in ["000000", "001100", "100000", "830000", "990000"] {
            assert!(
                matches!(
                    DivisionCode::parse(s),
                    Err(DivisionCodeError::BadProvincePart { .. })
                ),
                "{s}"
            );
        }
        assert!(DivisionCode::parse("110000").is_ok());
        assert!(DivisionCode::parse("820000").is_ok());
    }

    #[test]
    fn the_level_follows_the_trailing_zeros() {
        assert_eq!(code("340000").level(), JurisdictionLevel::Province);
        assert_eq!(code("341300").level(), JurisdictionLevel::City);
        assert_eq!(code("341324").level(), JurisdictionLevel::County);
        assert_eq!(code("110105").level(), JurisdictionLevel::County);
    }

    #[test]
    fn sixian_county_sits_under_suzhou_city_under_anhui() {
        // 《泗县实施意见》: 泗县 runs the Project under 宿州市 (附件2 §三(二)1 "宿州市教体局").
        assert_eq!(code("341324").expected_parent(), Some(code("341300")));
        assert_eq!(code("341300").expected_parent(), Some(code("340000")));
        assert_eq!(code("340000").expected_parent(), None);
        assert_eq!(
            code("341324").ancestry(),
            codes(&["340000", "341300", "341324"])
        );
    }

    #[test]
    fn districts_of_a_municipality_sit_directly_under_it() {
        // 《北京实施方案》§一 (市级规划指导、区级统筹监督): the districts sit directly under Beijing.
        assert_eq!(code("110105").expected_parent(), Some(code("110000")));
        assert_eq!(code("500229").expected_parent(), Some(code("500000")));
        assert_eq!(code("310115").expected_parent(), Some(code("310000")));
        assert_eq!(code("120101").ancestry(), codes(&["120000", "120101"]));
    }

    #[test]
    fn province_administered_county_level_units_sit_under_the_province() {
        assert_eq!(code("429004").expected_parent(), Some(code("420000")));
        assert_eq!(code("419001").expected_parent(), Some(code("410000")));
        assert_eq!(code("469001").ancestry(), codes(&["460000", "469001"]));
        assert!(code("429004").is_province_administered_county());
        assert!(!code("341324").is_province_administered_county());
    }

    #[test]
    fn a_ningxia_district_has_the_full_three_level_ancestry() {
        assert_eq!(
            code("640104").ancestry(),
            codes(&["640000", "640100", "640104"])
        );
        assert_eq!(code("640000").ancestry(), codes(&["640000"]));
    }

    #[test]
    fn city_level_codes_inside_municipalities_are_refused_as_jurisdictions() {
        for s in ["110100", "120100", "310100", "500100", "500200"] {
            let error = code(s).validate_as_jurisdiction().unwrap_err();
            assert_eq!(
                error,
                DivisionCodeError::CityLevelInMunicipality { code: code(s) }
            );
            assert!(error.to_string().contains("直辖市"), "{error}");
        }
    }

    #[test]
    fn the_grouping_code_of_province_administered_units_is_refused_as_a_jurisdiction() {
        for s in ["429000", "419000", "469000"] {
            assert_eq!(
                code(s).validate_as_jurisdiction(),
                Err(DivisionCodeError::ProvinceAdministeredGrouping { code: code(s) })
            );
        }
    }

    #[test]
    fn a_county_code_with_city_part_zero_is_refused_as_a_jurisdiction() {
        assert_eq!(
            code("440001").validate_as_jurisdiction(),
            Err(DivisionCodeError::CountyWithoutCity {
                code: code("440001")
            })
        );
        assert_eq!(code("440001").ancestry(), codes(&["440000", "440001"]));
    }

    #[test]
    fn ordinary_provinces_cities_counties_and_municipality_districts_are_jurisdictions() {
        for s in [
            "110000", "110105", "500229", "340000", "341300", "341324", "640104", "429004",
            "450000",
        ] {
            assert_eq!(code(s).validate_as_jurisdiction(), Ok(()), "{s}");
        }
    }

    #[test]
    fn every_ancestry_starts_at_the_province_and_each_step_is_the_expected_parent() {
        for province in 11..=82u32 {
            for city in [0u32, 1, 2, 13, 90] {
                for county in [0u32, 1, 4, 24, 99] {
                    let s = format!("{province:02}{city:02}{county:02}");
                    let c = code(&s);
                    let chain = c.ancestry();
                    assert_eq!(chain[0], c.province());
                    assert_eq!(chain[0].level(), JurisdictionLevel::Province);
                    assert_eq!(*chain.last().unwrap(), c);
                    assert!(chain.len() <= 3);
                    for pair in chain.windows(2) {
                        assert_eq!(pair[1].expected_parent(), Some(pair[0]));
                        assert!(pair[0].level() < pair[1].level());
                    }
                }
            }
        }
    }

    #[test]
    fn the_municipalities_are_beijing_tianjin_shanghai_and_chongqing() {
        let found: Vec<u8> = (11..=82).filter(|p| is_municipality(*p)).collect();
        assert_eq!(found, vec![11, 12, 31, 50]);
        assert!(code("500229").is_in_municipality());
        assert!(!code("640104").is_in_municipality());
    }

    #[test]
    fn levels_have_labels_keys_and_parse_back() {
        for level in JurisdictionLevel::ALL {
            assert_eq!(JurisdictionLevel::from_label(level.key()), Some(level));
            assert_eq!(JurisdictionLevel::from_label(level.label_zh()), Some(level));
        }
        assert_eq!(
            JurisdictionLevel::from_label(" County "),
            Some(JurisdictionLevel::County)
        );
        assert_eq!(
            JurisdictionLevel::from_label("自治区级"),
            Some(JurisdictionLevel::Province)
        );
        assert_eq!(JurisdictionLevel::from_label("校级"), None);
    }

    #[test]
    fn codes_order_numerically() {
        let mut list = codes(&["640104", "110000", "341324", "340000"]);
        list.sort();
        assert_eq!(list, codes(&["110000", "340000", "341324", "640104"]));
    }
}
