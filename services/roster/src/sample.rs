//! Deterministic sample rosters for tests, benchmarks and demos: a province with cities,
//! counties, schools and teachers with valid resident ID numbers, as the CSV or XLSX files an
//! office would send.
//!
//! The same seed gives the same roster on every machine (a tiny SplitMix64, not `rand`, so a
//! dependency upgrade cannot change test data).

use tica_domain::division::DivisionCode;
use tica_domain::{ResidentId, SchoolKind, Stage};

use crate::files::schools::SCHOOL_COLUMNS;
use crate::files::teachers::TEACHER_COLUMNS;
use crate::files::write::{UTF8_BOM, csv_record, xlsx};

/// SplitMix64: small, fast, and stable forever.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How big a roster to make.
#[derive(Clone, Debug)]
pub struct SampleSpec {
    /// Seed.
    pub seed: u64,
    /// Cities in the province.
    pub cities: usize,
    /// Counties in all.
    pub counties: usize,
    /// Schools in all.
    pub schools: usize,
    /// Teachers in all.
    pub teachers: usize,
    /// Whether teacher rows carry a teacher number (else the server assigns them).
    pub with_numbers: bool,
}

impl SampleSpec {
    /// The test province: 3 cities, 10 counties, 300 schools, 20,000 teachers.
    pub fn province() -> SampleSpec {
        SampleSpec {
            seed: 2022,
            cities: 3,
            counties: 10,
            schools: 300,
            teachers: 20_000,
            with_numbers: true,
        }
    }
}

/// A jurisdiction of the sample.
#[derive(Clone, Debug)]
pub struct SampleJurisdiction {
    /// Code.
    pub code: DivisionCode,
    /// Name.
    pub name: String,
    /// Parent.
    pub parent: Option<DivisionCode>,
}

/// A school of the sample.
#[derive(Clone, Debug)]
pub struct SampleSchool {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// County.
    pub county: DivisionCode,
    /// Kind.
    pub kind: SchoolKind,
    /// Rural.
    pub rural: bool,
    /// Teacher count.
    pub teachers: usize,
}

/// A teacher of the sample.
#[derive(Clone, Debug)]
pub struct SampleTeacher {
    /// Teacher number.
    pub number: String,
    /// Name.
    pub name: String,
    /// ID number.
    pub id: ResidentId,
    /// School code.
    pub school: String,
    /// Stage.
    pub stage: Stage,
    /// Subject.
    pub subject: &'static str,
    /// Category label.
    pub category: &'static str,
    /// Roles label.
    pub roles: &'static str,
}

/// A generated province.
#[derive(Clone, Debug)]
pub struct SampleRoster {
    /// Province, cities, counties (parents before children).
    pub jurisdictions: Vec<SampleJurisdiction>,
    /// Schools.
    pub schools: Vec<SampleSchool>,
    /// Teachers.
    pub teachers: Vec<SampleTeacher>,
    spec: SampleSpec,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "欧阳",
    "司马", "诸葛",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "文", "华", "玉兰", "建国", "红梅", "志强", "晓燕",
    "海燕", "宇", "欣", "思远", "子涵", "雨桐",
    // Rare characters outside GB2312, which names do contain.
    "喆", "堃", "犇", "淼", "垚", "昇", "甦", "珺",
];
const SUBJECTS: &[&str] = &[
    "语文",
    "数学",
    "英语",
    "物理",
    "化学",
    "生物",
    "历史",
    "地理",
    "道德与法治",
    "音乐",
    "体育",
    "美术",
    "信息技术",
    "科学",
];
const CITY_NAMES: &[(&str, &str)] = &[
    ("341300", "宿州市"),
    ("340100", "合肥市"),
    ("341200", "阜阳市"),
    ("340300", "蚌埠市"),
    ("341100", "滁州市"),
];
const COUNTY_NAMES: &[(&str, &str)] = &[
    ("341324", "泗县"),
    ("341321", "砀山县"),
    ("341322", "萧县"),
    ("341323", "灵璧县"),
    ("341302", "埇桥区"),
    ("340121", "长丰县"),
    ("340122", "肥东县"),
    ("340123", "肥西县"),
    ("341221", "临泉县"),
    ("341222", "太和县"),
];

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).expect("sample codes are valid")
}

impl SampleRoster {
    /// Generates a roster in Anhui (340000).
    pub fn generate(spec: SampleSpec) -> SampleRoster {
        assert!(
            spec.cities >= 1
                && spec.cities <= 99
                && spec.counties >= spec.cities
                && spec.schools >= spec.counties
        );
        let mut rng = Rng::new(spec.seed);
        let province = code("340000");
        let mut jurisdictions = vec![SampleJurisdiction {
            code: province,
            name: "安徽省".into(),
            parent: None,
        }];
        let mut cities = Vec::new();
        for i in 0..spec.cities {
            let (c, name) = CITY_NAMES
                .get(i)
                .map(|(c, n)| (code(c), n.to_string()))
                .unwrap_or_else(|| {
                    // Synthetic cities 344000, 344100, … stay clear of real Anhui codes.
                    let c = code(&format!("34{:02}00", 40 + i));
                    (c, format!("样例{}市", i + 1))
                });
            cities.push(c);
            jurisdictions.push(SampleJurisdiction {
                code: c,
                name,
                parent: Some(province),
            });
        }
        let mut counties = Vec::new();
        let mut used: Vec<DivisionCode> = Vec::new();
        for i in 0..spec.counties {
            let real = COUNTY_NAMES
                .iter()
                .map(|(c, n)| (code(c), *n))
                .find(|(c, _)| {
                    cities.contains(&c.expected_parent().expect("counties have parents"))
                        && !used.contains(c)
                });
            let (c, name) = match real {
                Some((c, n)) if i < 10 => (c, n.to_string()),
                _ => {
                    let city = cities[i % cities.len()];
                    let n = 51
                        + used
                            .iter()
                            .filter(|u| u.expected_parent() == Some(city))
                            .count();
                    let c = code(&format!("{}{:02}", &city.to_string()[..4], n));
                    (c, format!("样例{}县", i + 1))
                }
            };
            used.push(c);
            counties.push(c);
            jurisdictions.push(SampleJurisdiction {
                code: c,
                name,
                parent: c.expected_parent(),
            });
        }
        let kinds = [
            (SchoolKind::Primary, "小学"),
            (SchoolKind::Primary, "中心小学"),
            (SchoolKind::JuniorSecondary, "初级中学"),
            (SchoolKind::NineYear, "九年一贯制学校"),
            (SchoolKind::Kindergarten, "幼儿园"),
            (SchoolKind::SeniorSecondary, "中学"),
            (SchoolKind::SecondaryVocational, "职业学校"),
        ];
        let towns = [
            "城关", "大庄", "草沟", "黑塔", "墩集", "丁湖", "大杨", "刘圩", "屏山", "瓦坊", "山头",
            "长沟", "草庙", "泗城",
        ];
        let mut schools = Vec::with_capacity(spec.schools);
        for i in 0..spec.schools {
            let county = counties[i % counties.len()];
            let seq = i / counties.len() + 1;
            let (kind, suffix) = *rng.pick(&kinds);
            let town = rng.pick(&towns);
            schools.push(SampleSchool {
                code: format!("{county}{seq:04}"),
                name: format!("{town}{suffix}{seq}"),
                county,
                kind,
                rural: rng.below(100) < 60,
                teachers: 0,
            });
        }
        let mut teachers = Vec::with_capacity(spec.teachers);
        let mut per_county: std::collections::HashMap<DivisionCode, u32> = Default::default();
        let base = time::macros::date!(1964 - 01 - 01);
        for i in 0..spec.teachers {
            let school_index = i % schools.len();
            let school = &mut schools[school_index];
            school.teachers += 1;
            let j = per_county.entry(school.county).or_default();
            // Different seeds give different people: the seed shifts birth dates and sequences.
            let birth =
                base + time::Duration::days(i64::from((*j + (spec.seed % 13_000) as u32) % 13_000));
            let seq = ((u64::from(*j / 13_000) + spec.seed * 37) % 1000) as u16;
            *j += 1;
            let id = ResidentId::generate(&school.county.to_string(), birth, seq);
            let stage = match school.kind {
                SchoolKind::Kindergarten => Stage::Preschool,
                SchoolKind::Primary => Stage::Primary,
                SchoolKind::JuniorSecondary => Stage::JuniorSecondary,
                SchoolKind::SeniorSecondary => Stage::SeniorSecondary,
                SchoolKind::SecondaryVocational => Stage::SecondaryVocational,
                _ => *rng.pick(&[Stage::Primary, Stage::JuniorSecondary]),
            };
            let category = match (stage, rng.below(100)) {
                (Stage::Preschool, _) => "幼儿园教师",
                (_, 0..=2) => "自治区级骨干教师",
                (_, 3..=12) => "市县级骨干教师",
                _ => "普通教师",
            };
            let roles = if school.teachers == 1 {
                "教师;校长"
            } else if rng.below(200) == 0 {
                "教辅人员"
            } else {
                "教师"
            };
            let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
            teachers.push(SampleTeacher {
                number: format!("{}{:04}", school.code, school.teachers),
                name,
                id,
                school: school.code.clone(),
                stage,
                subject: if stage == Stage::Preschool {
                    ""
                } else {
                    SUBJECTS[rng.below(SUBJECTS.len() as u64) as usize]
                },
                category,
                roles,
            });
        }
        SampleRoster {
            jurisdictions,
            schools,
            teachers,
            spec,
        }
    }

    /// The province's code.
    pub fn province(&self) -> DivisionCode {
        self.jurisdictions[0].code
    }

    /// Counties, in generation order.
    pub fn counties(&self) -> Vec<DivisionCode> {
        self.jurisdictions
            .iter()
            .filter(|j| j.code.level() == tica_domain::JurisdictionLevel::County)
            .map(|j| j.code)
            .collect()
    }

    fn school_rows(&self) -> Vec<Vec<String>> {
        self.schools
            .iter()
            .map(|s| {
                vec![
                    s.code.clone(),
                    s.name.clone(),
                    s.county.to_string(),
                    s.kind.label_zh().to_owned(),
                    if s.rural { "是" } else { "否" }.to_owned(),
                    s.teachers.to_string(),
                    String::new(),
                ]
            })
            .collect()
    }

    /// One teacher row, in [`TEACHER_COLUMNS`] order.
    pub fn teacher_row(&self, t: &SampleTeacher) -> Vec<String> {
        vec![
            if self.spec.with_numbers {
                t.number.clone()
            } else {
                String::new()
            },
            t.name.clone(),
            t.id.as_str().to_owned(),
            t.id.sex().label_zh().to_owned(),
            tica_server::proto_time::date_to_iso(t.id.birth_date()),
            t.school.clone(),
            t.stage.label_zh().to_owned(),
            t.subject.to_owned(),
            t.category.to_owned(),
            t.roles.to_owned(),
        ]
    }

    /// Teacher rows, in [`TEACHER_COLUMNS`] order.
    pub fn teacher_rows(&self) -> Vec<Vec<String>> {
        self.teachers.iter().map(|t| self.teacher_row(t)).collect()
    }

    /// The schools as a UTF-8 CSV with Chinese headers.
    pub fn schools_csv(&self) -> Vec<u8> {
        to_csv(
            &SCHOOL_COLUMNS
                .iter()
                .map(|c| c.header_zh)
                .collect::<Vec<_>>(),
            &self.school_rows(),
        )
    }

    /// The schools as XLSX.
    pub fn schools_xlsx(&self) -> Vec<u8> {
        xlsx(
            "学校",
            &SCHOOL_COLUMNS
                .iter()
                .map(|c| c.header_zh)
                .collect::<Vec<_>>(),
            &self.school_rows(),
        )
        .expect("xlsx")
    }

    /// The teachers as a UTF-8 CSV with Chinese headers.
    pub fn teachers_csv(&self) -> Vec<u8> {
        teachers_csv(&self.teacher_rows())
    }

    /// The teachers as XLSX.
    pub fn teachers_xlsx(&self) -> Vec<u8> {
        xlsx(
            "教师",
            &TEACHER_COLUMNS
                .iter()
                .map(|c| c.header_zh)
                .collect::<Vec<_>>(),
            &self.teacher_rows(),
        )
        .expect("xlsx")
    }
}

/// Teacher rows as a UTF-8 CSV with Chinese headers.
pub fn teachers_csv(rows: &[Vec<String>]) -> Vec<u8> {
    to_csv(
        &TEACHER_COLUMNS
            .iter()
            .map(|c| c.header_zh)
            .collect::<Vec<_>>(),
        rows,
    )
}

fn to_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = UTF8_BOM.to_vec();
    csv_record(&mut out, header);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        csv_record(&mut out, &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_roster() {
        let a = SampleRoster::generate(SampleSpec {
            teachers: 500,
            ..SampleSpec::province()
        });
        let b = SampleRoster::generate(SampleSpec {
            teachers: 500,
            ..SampleSpec::province()
        });
        assert_eq!(a.teachers_csv(), b.teachers_csv());
        assert_eq!(a.jurisdictions.len(), 1 + 3 + 10);
        assert_eq!(a.schools.len(), 300);
    }

    #[test]
    fn generated_id_numbers_are_unique_and_valid() {
        let roster = SampleRoster::generate(SampleSpec {
            teachers: 20_000,
            ..SampleSpec::province()
        });
        let ids: std::collections::HashSet<&str> =
            roster.teachers.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), 20_000);
        let today = time::macros::date!(2026 - 11 - 23);
        assert!(
            roster
                .teachers
                .iter()
                .all(|t| ResidentId::parse(t.id.as_str(), today).is_ok())
        );
    }

    #[test]
    fn a_larger_province_gets_synthetic_but_valid_codes() {
        let roster = SampleRoster::generate(SampleSpec {
            seed: 1,
            cities: 5,
            counties: 60,
            schools: 600,
            teachers: 1000,
            with_numbers: false,
        });
        for j in &roster.jurisdictions {
            j.code.validate_as_jurisdiction().unwrap();
            assert_eq!(j.parent, j.code.expected_parent());
        }
        let codes: std::collections::HashSet<_> =
            roster.jurisdictions.iter().map(|j| j.code).collect();
        assert_eq!(codes.len(), roster.jurisdictions.len());
    }
}
