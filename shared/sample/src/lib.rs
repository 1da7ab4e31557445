//! Deterministic sample rosters for tests, benchmarks and demos, as the CSV or XLSX files an
//! office would send, with valid resident ID numbers:
//!
//! - [`SampleRoster::generate`]: a province with cities, counties, schools and teachers
//!   (uniform, for load tests);
//! - [`SampleRoster::county`]: one county shaped like 泗县 in 2022 (《泗县实施意见》)
//!   or its Ningxia twin in 永宁县 — real school kinds, town and village schools, a teacher
//!   development centre, realistic ages, sexes, subjects and categories (for `tica demo`).
//!
//! The same seed gives the same roster on every machine (`tica-fuzz`'s tiny SplitMix64, not
//! `rand`, so a dependency upgrade cannot change test data).

use tica_domain::division::DivisionCode;
use tica_domain::{ResidentId, SchoolKind, Stage};

use tica_roster::files::schools::SCHOOL_COLUMNS;
use tica_roster::files::teachers::TEACHER_COLUMNS;
use tica_roster::files::write::{UTF8_BOM, csv_record, xlsx};

/// The suite's one seeded generator ([`tica_fuzz::Rng`], SplitMix64: small, fast, and stable
/// forever), drawn in the `u64` ranges the rosters and the demo were written with; the same
/// seed gives the same stream it always has.
#[derive(Clone, Debug)]
pub struct Rng(tica_fuzz::Rng);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(tica_fuzz::Rng::new(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (0 when `n` is 0).
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

/// A generated province or county.
#[derive(Clone, Debug)]
pub struct SampleRoster {
    /// Province, cities, counties (parents before children).
    pub jurisdictions: Vec<SampleJurisdiction>,
    /// Schools.
    pub schools: Vec<SampleSchool>,
    /// Teachers.
    pub teachers: Vec<SampleTeacher>,
    spec: SampleSpec,
    /// Where each school lies (county model only; parallel to `schools`, empty otherwise).
    settings: Vec<CountySetting>,
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
                (_, 0..=2) => ANHUI_BACKBONE,
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
            settings: Vec::new(),
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

// ---------------------------------------------------------------------------------------------
// The county model (docs/design/issue7-demo-and-reports.md §2.2).
// ---------------------------------------------------------------------------------------------

/// Which county [`SampleRoster::county`] imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountyModel {
    /// 泗县 (341324) in 宿州市 (341300), 安徽省 (340000), in 2022: the county whose year
    /// 《泗县实施意见》 describes (its 执行办公室 sits in the 师资发展中心, 附件1).
    Sixian2022,
    /// The same shape in 永宁县 (640121), 银川市 (640100), 宁夏回族自治区 (640000), for the
    /// Ningxia rules (《宁夏测评实施办法》). Town names beyond the first six are
    /// illustrative.
    Ningxia,
}

impl CountyModel {
    /// Province, city and county as `(code, name)`, parents first.
    pub fn jurisdictions(self) -> [(&'static str, &'static str); 3] {
        self.names().jurisdictions
    }

    /// The county's code (341324 or 640121).
    pub fn county_code(self) -> DivisionCode {
        code(self.names().jurisdictions[2].0)
    }

    fn names(self) -> &'static CountyNames {
        match self {
            CountyModel::Sixian2022 => &SIXIAN,
            CountyModel::Ningxia => &YONGNING,
        }
    }

    /// The top backbone category as the province's own rosters name it: Anhui's 省级骨干教师,
    /// Ningxia's 自治区级骨干教师 (an autonomous region has no 省; issue 21 found a Sixian
    /// roster saying 自治区级). Both import as the same category.
    pub fn regional_backbone(self) -> &'static str {
        match self {
            CountyModel::Sixian2022 => ANHUI_BACKBONE,
            CountyModel::Ningxia => "自治区级骨干教师",
        }
    }
}

/// Anhui's top backbone category (the province generator's rosters are Anhui's too).
const ANHUI_BACKBONE: &str = "省级骨干教师";

/// How big a county to make, and which one.
#[derive(Debug, Clone)]
pub struct CountySpec {
    /// Seed for the people (names, sexes, birth dates, subjects, categories). The county's
    /// shape — schools, their names and sizes — depends only on `teachers` and `model`.
    pub seed: u64,
    /// Teachers in all (at least [`CountySpec::MIN_TEACHERS`]); 3,000 is the design's county.
    pub teachers: usize,
    /// Which county.
    pub model: CountyModel,
}

impl CountySpec {
    /// The fewest teachers a county can have: two in each of the ten schools of the smallest
    /// county (one school of every kind).
    pub const MIN_TEACHERS: usize = 20;

    /// 泗县 2022 with `teachers` teachers.
    pub fn sixian(teachers: usize, seed: u64) -> Self {
        CountySpec {
            seed,
            teachers,
            model: CountyModel::Sixian2022,
        }
    }

    /// 永宁县, Ningxia, with `teachers` teachers.
    pub fn ningxia(teachers: usize, seed: u64) -> Self {
        CountySpec {
            seed,
            teachers,
            model: CountyModel::Ningxia,
        }
    }
}

/// Where a school of the county model lies (the demo derives each school's environment
/// capability from it: village A; town A+B; county seat A+B+C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountySetting {
    /// The county seat (城区), including the teacher development centre.
    CountySeat,
    /// A town or township (镇/乡): its central primary, junior secondary, kindergarten and
    /// nine-year school.
    Town,
    /// A village school (村小).
    Village,
}

/// The day ages are counted on: the Sixian batch opens on 2022-04-15 (《泗县实施意见》附件3 四月: 召开启动会).
pub const COUNTY_AGE_DATE: time::Date = time::macros::date!(2022 - 04 - 15);

/// The names a county model uses.
#[derive(Debug)]
struct CountyNames {
    /// Province, city, county: `(code, name)`.
    jurisdictions: [(&'static str, &'static str); 3],
    /// Prefix of county-seat school names (泗县第一小学).
    short: &'static str,
    /// The teacher development centre.
    centre: &'static str,
    /// Towns and townships with their suffix (镇 or 乡); the first six are the larger towns
    /// that have a nine-year school.
    towns: &'static [(&'static str, &'static str)],
    /// Village names for 村小.
    villages: &'static [&'static str],
    /// Seed of the county's shape (school sizes, village names), fixed per model.
    shape_seed: u64,
}

/// Sixian: 泗城 is the county seat; the towns are illustrative (after sample.rs's list).
static SIXIAN: CountyNames = CountyNames {
    jurisdictions: [
        ("340000", "安徽省"),
        ("341300", "宿州市"),
        ("341324", "泗县"),
    ],
    short: "泗县",
    centre: "泗县师资发展中心",
    towns: &[
        ("大庄", "镇"),
        ("草沟", "镇"),
        ("黑塔", "镇"),
        ("墩集", "镇"),
        ("丁湖", "镇"),
        ("屏山", "镇"),
        ("大杨", "镇"),
        ("刘圩", "镇"),
        ("瓦坊", "乡"),
        ("山头", "镇"),
        ("长沟", "镇"),
        ("草庙", "镇"),
        ("大路口", "乡"),
        ("黄圩", "镇"),
        ("孙集", "镇"),
    ],
    villages: &[
        "王庄", "李圩", "张楼", "刘集", "陈湖", "周庄", "孙圩", "前进", "新庄", "胡岗", "徐集",
        "朱楼", "杨湖", "赵庄", "何圩", "马集", "高楼", "吴庄", "郑湖", "梁集", "谢庄", "宋圩",
        "唐楼", "韩集",
    ],
    shape_seed: 3_413_242_022,
};

/// Yongning: 杨和 is the county seat; towns after the first six are illustrative.
static YONGNING: CountyNames = CountyNames {
    jurisdictions: [
        ("640000", "宁夏回族自治区"),
        ("640100", "银川市"),
        ("640121", "永宁县"),
    ],
    short: "永宁县",
    centre: "永宁县教师发展中心",
    towns: &[
        ("李俊", "镇"),
        ("望洪", "镇"),
        ("望远", "镇"),
        ("闽宁", "镇"),
        ("胜利", "乡"),
        ("黄羊滩", "镇"),
        ("增岗", "镇"),
        ("观桥", "镇"),
        ("通桥", "镇"),
        ("玉泉", "镇"),
        ("东和", "乡"),
        ("丰登", "镇"),
        ("金沙", "镇"),
        ("园林", "镇"),
        ("新堡", "镇"),
    ],
    villages: &[
        "东风", "红旗", "新华", "友爱", "永红", "园艺", "团结", "丰盈", "立强", "金星", "光明",
        "红星", "东方", "上河", "新渠", "八渠", "永丰", "宁化", "惠丰", "兴胜",
    ],
    shape_seed: 6_401_212_022,
};

/// One row of the design table (§2.2): a kind of unit in the county.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// 师资发展中心 / 教师发展中心: the county's 教研员 (one per county).
    Centre,
    /// 城区小学.
    SeatPrimary,
    /// 城区初中.
    SeatJunior,
    /// 实验学校 (nine-year).
    SeatExperimental,
    /// 城区幼儿园.
    SeatKindergarten,
    /// 中心小学.
    TownPrimary,
    /// 初级中学.
    TownJunior,
    /// 中心幼儿园.
    TownKindergarten,
    /// 九年一贯制学校 of a larger town (rural).
    TownNineYear,
    /// 村小 (rural).
    Village,
}

impl Unit {
    fn kind(self) -> SchoolKind {
        match self {
            Unit::Centre => SchoolKind::TeacherDevelopmentCentre,
            Unit::SeatPrimary | Unit::TownPrimary | Unit::Village => SchoolKind::Primary,
            Unit::SeatJunior | Unit::TownJunior => SchoolKind::JuniorSecondary,
            Unit::SeatExperimental | Unit::TownNineYear => SchoolKind::NineYear,
            Unit::SeatKindergarten | Unit::TownKindergarten => SchoolKind::Kindergarten,
        }
    }

    fn rural(self) -> bool {
        matches!(self, Unit::Village | Unit::TownNineYear)
    }

    fn setting(self) -> CountySetting {
        match self {
            Unit::Centre
            | Unit::SeatPrimary
            | Unit::SeatJunior
            | Unit::SeatExperimental
            | Unit::SeatKindergarten => CountySetting::CountySeat,
            Unit::TownPrimary | Unit::TownJunior | Unit::TownKindergarten | Unit::TownNineYear => {
                CountySetting::Town
            }
            Unit::Village => CountySetting::Village,
        }
    }

    /// Teachers per unit in the 3,000-teacher county (§2.2).
    fn size(self) -> u64 {
        match self {
            Unit::Centre => 30,
            Unit::SeatPrimary => 90,
            Unit::SeatJunior | Unit::SeatExperimental => 110,
            Unit::SeatKindergarten => 30,
            Unit::TownPrimary => 38,
            Unit::TownJunior => 40,
            Unit::TownKindergarten => 12,
            Unit::TownNineYear => 35,
            Unit::Village => 14,
        }
    }

    /// Per mille of staff aged 50 or more: older in villages, younger in kindergartens
    /// (about 22 % over the county).
    fn over_50_permille(self) -> u64 {
        match self {
            Unit::Village => 380,
            Unit::Centre => 300,
            Unit::TownNineYear => 250,
            Unit::TownPrimary | Unit::TownJunior => 200,
            Unit::SeatPrimary | Unit::SeatJunior | Unit::SeatExperimental => 160,
            Unit::TownKindergarten | Unit::SeatKindergarten => 50,
        }
    }

    /// Per mille of 自治区级 and of 市县级 backbone teachers (about 3 % and 12 % overall).
    fn backbone_permille(self) -> (u64, u64) {
        match self {
            Unit::Centre => (200, 400),
            Unit::Village => (20, 80),
            Unit::TownPrimary | Unit::TownJunior | Unit::TownNineYear => (30, 110),
            Unit::SeatPrimary | Unit::SeatJunior | Unit::SeatExperimental => (40, 160),
            Unit::TownKindergarten | Unit::SeatKindergarten => (0, 0),
        }
    }

    /// The stage one of its staff teaches (or, at the centre, researches).
    fn stage(self, rng: &mut Rng) -> Stage {
        match self {
            Unit::SeatPrimary | Unit::TownPrimary | Unit::Village => Stage::Primary,
            Unit::SeatJunior | Unit::TownJunior => Stage::JuniorSecondary,
            Unit::SeatKindergarten | Unit::TownKindergarten => Stage::Preschool,
            Unit::SeatExperimental | Unit::TownNineYear => {
                weighted(rng, &[(Stage::Primary, 60), (Stage::JuniorSecondary, 40)])
            }
            Unit::Centre => weighted(
                rng,
                &[
                    (Stage::Primary, 50),
                    (Stage::JuniorSecondary, 40),
                    (Stage::Preschool, 10),
                ],
            ),
        }
    }
}

/// Subjects of primary teachers, in per cent (§2.2: 音体美 14 %).
const PRIMARY_SUBJECTS: &[(&str, u64)] = &[
    ("语文", 35),
    ("数学", 30),
    ("英语", 10),
    ("科学", 5),
    ("道德与法治", 4),
    ("音乐", 5),
    ("体育", 5),
    ("美术", 4),
    ("信息技术", 2),
];

/// Subjects of junior secondary teachers, in per cent.
const JUNIOR_SUBJECTS: &[(&str, u64)] = &[
    ("语文", 18),
    ("数学", 18),
    ("英语", 15),
    ("物理", 7),
    ("化学", 5),
    ("生物", 5),
    ("历史", 6),
    ("地理", 5),
    ("道德与法治", 7),
    ("音乐", 3),
    ("体育", 6),
    ("美术", 3),
    ("信息技术", 2),
];

/// The role label of a school's principal (its first teacher); the importer reads it as
/// `[Teacher, Principal]`.
pub const PRINCIPAL_ROLES: &str = "教师;校长";
/// The role label of the teacher development centre's head: `[Principal, TeachingResearcher]`.
pub const CENTRE_HEAD_ROLES: &str = "教研员;校长";
/// The role label of the centre's other staff: `[TeachingResearcher]`.
pub const RESEARCHER_ROLES: &str = "教研员";
/// The role label of auxiliary staff (about 0.5 % of school staff): `[AuxiliaryStaff]`.
pub const AUXILIARY_ROLES: &str = "教辅人员";
/// The role label of everyone else: `[Teacher]`.
pub const TEACHER_ROLES: &str = "教师";

/// The given names of [`GIVEN`] usual for women.
const FEMALE_GIVEN: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "秀英", "霞", "桂英", "玉兰", "红梅", "晓燕", "海燕",
    "欣", "子涵", "雨桐", "淼", "珺",
];
/// The given names of [`GIVEN`] usual for men.
const MALE_GIVEN: &[&str] = &[
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "平", "刚", "文", "华", "建国",
    "志强", "宇", "思远", "喆", "堃", "犇", "垚", "昇", "甦",
];

/// A value from `(value, weight)` pairs.
fn weighted<T: Copy>(rng: &mut Rng, items: &[(T, u64)]) -> T {
    let total: u64 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (item, w) in items {
        if roll < *w {
            return *item;
        }
        roll -= w;
    }
    items[items.len() - 1].0
}

/// 1..=99 in Chinese numerals (一, 十, 十一, 二十三).
fn numeral(n: usize) -> String {
    const DIGITS: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        1..=9 => DIGITS[n].to_owned(),
        10..=19 => format!("十{}", DIGITS[n % 10]),
        20..=99 => format!("{}十{}", DIGITS[n / 10], DIGITS[n % 10]),
        _ => n.to_string(),
    }
}

/// `count` distinct town names with their suffix: the model's towns, then synthetic ones
/// (新集镇, 东庄镇, …) for counties larger than the design's.
fn town_names(names: &CountyNames, count: usize) -> Vec<String> {
    const FIRST: [&str; 11] = [
        "新", "东", "西", "南", "北", "前", "后", "上", "下", "中", "小",
    ];
    const SECOND: [&str; 10] = ["集", "庄", "湖", "桥", "河", "岗", "营", "店", "楼", "圩"];
    let mut out: Vec<String> = names
        .towns
        .iter()
        .take(count)
        .map(|(t, suffix)| format!("{t}{suffix}"))
        .collect();
    let mut j = 0;
    while out.len() < count {
        let round = j / (FIRST.len() * SECOND.len());
        let name = format!(
            "{}{}{}镇",
            FIRST[j % FIRST.len()],
            SECOND[(j / FIRST.len()) % SECOND.len()],
            if round == 0 {
                String::new()
            } else {
                numeral(round + 1)
            }
        );
        j += 1;
        if !names.towns.iter().any(|(t, _)| name.starts_with(t)) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The county's units in code order: the centre, the county seat's schools, then town by town
/// its central primary, junior secondary, kindergarten, nine-year school (the first six towns)
/// and village schools. Counts follow §2.2 scaled by `teachers / 3000`, rounded, at least one.
fn county_units(names: &CountyNames, teachers: usize, rng: &mut Rng) -> Vec<(Unit, String)> {
    let scaled = |at_3000: usize| ((at_3000 * teachers + 1500) / 3000).max(1);
    let county = names.short;
    let mut units = vec![(Unit::Centre, names.centre.to_owned())];
    for n in 1..=scaled(4) {
        units.push((Unit::SeatPrimary, format!("{county}第{}小学", numeral(n))));
    }
    for n in 1..=scaled(2) {
        units.push((
            Unit::SeatJunior,
            format!("{county}第{}初级中学", numeral(n)),
        ));
    }
    for n in 1..=scaled(1) {
        let name = if n == 1 {
            format!("{county}实验学校")
        } else {
            format!("{county}第{}实验学校", numeral(n))
        };
        units.push((Unit::SeatExperimental, name));
    }
    for n in 1..=scaled(3) {
        units.push((
            Unit::SeatKindergarten,
            format!("{county}第{}幼儿园", numeral(n)),
        ));
    }
    let towns = town_names(names, scaled(15));
    let nine_year = scaled(6).min(towns.len());
    let villages = scaled(45);
    for (t, town) in towns.iter().enumerate() {
        units.push((Unit::TownPrimary, format!("{town}中心小学")));
        units.push((Unit::TownJunior, format!("{town}初级中学")));
        units.push((Unit::TownKindergarten, format!("{town}中心幼儿园")));
        if t < nine_year {
            units.push((Unit::TownNineYear, format!("{town}九年一贯制学校")));
        }
        // Village names: a shuffle of the pool per town, so names repeat only across towns.
        let mut pool: Vec<&str> = names.villages.to_vec();
        for i in (1..pool.len()).rev() {
            pool.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let here = villages / towns.len() + usize::from(t < villages % towns.len());
        for v in 0..here {
            let village = pool[v % pool.len()];
            let again = v / pool.len();
            let village = if again == 0 {
                village.to_owned()
            } else {
                format!("{village}{}", numeral(again + 1))
            };
            units.push((Unit::Village, format!("{town}{village}村小学")));
        }
    }
    units
}

/// Splits `total` teachers over schools in proportion to `weights` (largest remainder), then
/// raises every school to `min` by taking from the largest ones. Needs `total >= min * len`.
fn apportion(weights: &[u64], total: usize, min: usize) -> Vec<usize> {
    let sum: u64 = weights.iter().sum();
    let total64 = total as u64;
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|w| (w * total64 / sum) as usize)
        .collect();
    let mut left = total - counts.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; ties by position, so the result is stable.
    by_remainder.sort_by_key(|&i| (std::cmp::Reverse(weights[i] * total64 % sum), i));
    for &i in by_remainder.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    for i in 0..counts.len() {
        while counts[i] < min {
            let largest = (0..counts.len())
                .max_by_key(|&j| (counts[j], std::cmp::Reverse(j)))
                .expect("schools exist");
            assert!(counts[largest] > min, "too few teachers for the schools");
            counts[largest] -= 1;
            counts[i] += 1;
        }
    }
    counts
}

impl SampleRoster {
    /// Generates one county shaped like 泗县 in 2022 (or its Ningxia twin, 永宁县): the design's
    /// 107 schools for 3,000 teachers (docs/design/issue7-demo-and-reports.md §2.2), scaled by
    /// `teachers / 3000`.
    ///
    /// - Jurisdictions: province, city, county (340000 安徽省 → 341300 宿州市 → 341324 泗县,
    ///   or 640000 → 640100 → 640121).
    /// - Schools, coded `{county}0001…` in this order: the teacher development centre (the
    ///   执行办公室设在师资发展中心, 《泗县实施意见》附件1), the county seat's primaries, junior
    ///   secondaries, experimental (nine-year) school and kindergartens, then town by town its
    ///   中心小学, 初级中学, 中心幼儿园, a rural 九年一贯制学校 in the first six towns, and its
    ///   rural 村小. Every kind is present at any size; every school has at least 3 teachers
    ///   when `teachers >= 3 × schools`, else at least 2. Schools, names and sizes depend only
    ///   on `teachers` and the model, not on the seed.
    /// - Teachers are listed school by school; the **first teacher of each school is its
    ///   principal** ([`PRINCIPAL_ROLES`], at the centre [`CENTRE_HEAD_ROLES`];
    ///   [`SampleRoster::principal_of`]), the centre's other staff are 教研员
    ///   ([`RESEARCHER_ROLES`]; about one in six teaches 信息技术, the 电教人员), about 0.5 % of
    ///   school staff 教辅人员 ([`AUXILIARY_ROLES`]).
    /// - Sex follows the ID sequence's parity (female: kindergarten ~97 %, primary ~70 %, junior
    ///   ~55 %) and given names suit it; ages on [`COUNTY_AGE_DATE`] are 22–59 (principals
    ///   35–59), about 22 % aged 50 or more (more in villages, fewer in kindergartens).
    /// - Stage by kind (九年一贯制: 60 % 小学, 40 % 初中), subject by stage (none in
    ///   kindergartens). Categories use labels the importer reads: 幼儿园教师 for preschool
    ///   staff, else 普通教师 / 市县级骨干教师 / the province's top backbone
    ///   ([`CountyModel::regional_backbone`]: 省级 in Anhui, 自治区级 in Ningxia) (about 85 / 12 / 3 %;
    ///   fewer backbones in villages, most at the centre).
    /// - Teacher numbers are the school code and a 4-digit ordinal (`34132400010001`), as the
    ///   province generator writes them; ID numbers carry the county's code as region.
    ///
    /// # Panics
    ///
    /// If `spec.teachers` is below [`CountySpec::MIN_TEACHERS`].
    pub fn county(spec: &CountySpec) -> SampleRoster {
        assert!(
            spec.teachers >= CountySpec::MIN_TEACHERS,
            "a county needs at least {} teachers",
            CountySpec::MIN_TEACHERS
        );
        let names = spec.model.names();
        let jurisdictions: Vec<SampleJurisdiction> = names
            .jurisdictions
            .iter()
            .map(|(c, name)| {
                let c = code(c);
                SampleJurisdiction {
                    code: c,
                    name: (*name).to_owned(),
                    parent: c.expected_parent(),
                }
            })
            .collect();
        let county = spec.model.county_code();

        // The shape: fixed per model and size.
        let mut shape = Rng::new(names.shape_seed);
        let units = county_units(names, spec.teachers, &mut shape);
        let weights: Vec<u64> = units
            .iter()
            .map(|(unit, _)| unit.size() * (75 + shape.below(51)))
            .collect();
        let min = if spec.teachers >= 3 * units.len() {
            3
        } else {
            2
        };
        let sizes = apportion(&weights, spec.teachers, min);
        let schools: Vec<SampleSchool> = units
            .iter()
            .zip(&sizes)
            .enumerate()
            .map(|(i, ((unit, name), &size))| SampleSchool {
                code: format!("{county}{:04}", i + 1),
                name: name.clone(),
                county,
                kind: unit.kind(),
                rural: unit.rural(),
                teachers: size,
            })
            .collect();

        // The people: from the seed.
        let mut rng = Rng::new(spec.seed);
        let region = county.to_string();
        let mut used: std::collections::HashSet<(time::Date, u16)> = Default::default();
        let mut teachers = Vec::with_capacity(spec.teachers);
        for ((unit, _), school) in units.iter().zip(&schools) {
            for k in 0..school.teachers {
                let stage = unit.stage(&mut rng);
                let female_permille = match stage {
                    Stage::Preschool => 970,
                    Stage::Primary => 700,
                    _ => 550,
                };
                let male = rng.below(1000) >= female_permille;
                let age = if k == 0 {
                    // Principals are 35–59.
                    35 + rng.below(25)
                } else if rng.below(1000) < unit.over_50_permille() {
                    50 + rng.below(10)
                } else if stage == Stage::Preschool {
                    22 + rng.below(28).min(rng.below(28))
                } else {
                    22 + rng.below(28)
                };
                let birthday = time::Date::from_calendar_date(
                    COUNTY_AGE_DATE.year() - age as i32,
                    COUNTY_AGE_DATE.month(),
                    COUNTY_AGE_DATE.day(),
                )
                .expect("15 April exists every year");
                // Up to 364 days before the birthday: exactly `age` on the age date.
                let birth = birthday - time::Duration::days(rng.below(365) as i64);
                let sequence = loop {
                    let sequence = (rng.below(500) * 2 + u64::from(male)) as u16;
                    if used.insert((birth, sequence)) {
                        break sequence;
                    }
                };
                let id = ResidentId::generate(&region, birth, sequence);
                let subject = match stage {
                    // The centre's 电教人员.
                    _ if *unit == Unit::Centre && k > 0 && rng.below(6) == 0 => "信息技术",
                    Stage::Primary => weighted(&mut rng, PRIMARY_SUBJECTS),
                    Stage::JuniorSecondary => weighted(&mut rng, JUNIOR_SUBJECTS),
                    _ => "",
                };
                let (regional, city_county) = unit.backbone_permille();
                let roll = rng.below(1000);
                let category = if stage == Stage::Preschool {
                    "幼儿园教师"
                } else if roll < regional {
                    spec.model.regional_backbone()
                } else if roll < regional + city_county {
                    "市县级骨干教师"
                } else {
                    "普通教师"
                };
                let auxiliary = rng.below(200) == 0;
                let roles = match (k, *unit) {
                    (0, Unit::Centre) => CENTRE_HEAD_ROLES,
                    (0, _) => PRINCIPAL_ROLES,
                    (_, Unit::Centre) => RESEARCHER_ROLES,
                    _ if auxiliary => AUXILIARY_ROLES,
                    _ => TEACHER_ROLES,
                };
                let given = if male { MALE_GIVEN } else { FEMALE_GIVEN };
                let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(given));
                teachers.push(SampleTeacher {
                    number: format!("{}{:04}", school.code, k + 1),
                    name,
                    id,
                    school: school.code.clone(),
                    stage,
                    subject,
                    category,
                    roles,
                });
            }
        }
        SampleRoster {
            jurisdictions,
            spec: SampleSpec {
                seed: spec.seed,
                cities: 1,
                counties: 1,
                schools: schools.len(),
                teachers: spec.teachers,
                with_numbers: true,
            },
            settings: units.iter().map(|(unit, _)| unit.setting()).collect(),
            schools,
            teachers,
        }
    }

    /// Where a school of a county roster lies; `None` for a province roster or an unknown code.
    pub fn county_setting(&self, school_code: &str) -> Option<CountySetting> {
        let index = self.schools.iter().position(|s| s.code == school_code)?;
        self.settings.get(index).copied()
    }

    /// The principal of a school: its first teacher with the 校长 role.
    pub fn principal_of(&self, school_code: &str) -> Option<&SampleTeacher> {
        self.teachers
            .iter()
            .find(|t| t.school == school_code && t.roles.contains("校长"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_draws_the_splitmix64_stream_it_always_has() {
        // SplitMix64 from seed 2022, computed independently of this crate; the rosters, the
        // demo and their tests depend on exactly this stream.
        let mut rng = Rng::new(2022);
        assert_eq!(rng.next_u64(), 0x1ca5_66f0_d3b5_2143);
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(7), 6);
        assert_eq!(rng.below(100), 95);
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let items = [1, 2, 3, 4, 5];
        assert_eq!(*a.pick(&items), items[(b.next_u64() % 5) as usize]);
    }

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

    // ---- the county model ----------------------------------------------------------------

    use std::collections::{BTreeMap, HashMap, HashSet};

    fn units_by_name(roster: &SampleRoster) -> BTreeMap<&'static str, (usize, usize)> {
        let mut out: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        for s in &roster.schools {
            let unit = match (s.kind, roster.county_setting(&s.code).unwrap()) {
                (SchoolKind::TeacherDevelopmentCentre, _) => "centre",
                (SchoolKind::Primary, CountySetting::CountySeat) => "seat primary",
                (SchoolKind::JuniorSecondary, CountySetting::CountySeat) => "seat junior",
                (SchoolKind::NineYear, CountySetting::CountySeat) => "seat experimental",
                (SchoolKind::Kindergarten, CountySetting::CountySeat) => "seat kindergarten",
                (SchoolKind::Primary, CountySetting::Town) => "town primary",
                (SchoolKind::JuniorSecondary, CountySetting::Town) => "town junior",
                (SchoolKind::Kindergarten, CountySetting::Town) => "town kindergarten",
                (SchoolKind::NineYear, CountySetting::Town) => "town nine-year",
                (SchoolKind::Primary, CountySetting::Village) => "village",
                other => panic!("unexpected school {other:?}"),
            };
            let entry = out.entry(unit).or_default();
            entry.0 += 1;
            entry.1 += s.teachers;
        }
        out
    }

    fn age(t: &SampleTeacher) -> i32 {
        let birth = t.id.birth_date();
        let mut age = COUNTY_AGE_DATE.year() - birth.year();
        if (COUNTY_AGE_DATE.month(), COUNTY_AGE_DATE.day()) < (birth.month(), birth.day()) {
            age -= 1;
        }
        age
    }

    #[test]
    fn the_same_seed_gives_the_same_county_files() {
        for spec in [CountySpec::sixian(3000, 7), CountySpec::ningxia(500, 7)] {
            let a = SampleRoster::county(&spec);
            let b = SampleRoster::county(&spec);
            assert_eq!(a.schools_csv(), b.schools_csv());
            assert_eq!(a.teachers_csv(), b.teachers_csv());
        }
    }

    #[test]
    fn another_seed_gives_other_people_in_the_same_schools() {
        let a = SampleRoster::county(&CountySpec::sixian(3000, 1));
        let b = SampleRoster::county(&CountySpec::sixian(3000, 2));
        assert_eq!(a.schools_csv(), b.schools_csv());
        let ids_a: HashSet<&str> = a.teachers.iter().map(|t| t.id.as_str()).collect();
        let shared = b
            .teachers
            .iter()
            .filter(|t| ids_a.contains(t.id.as_str()))
            .count();
        assert!(shared < 30, "{shared} of 3,000 people recur");
        let same_name = a
            .teachers
            .iter()
            .zip(&b.teachers)
            .filter(|(x, y)| x.name == y.name)
            .count();
        assert!(same_name < 300, "{same_name} names recur in place");
    }

    #[test]
    fn county_id_numbers_and_teacher_numbers_are_unique_and_valid() {
        for spec in [CountySpec::sixian(20_000, 3), CountySpec::ningxia(3000, 3)] {
            let roster = SampleRoster::county(&spec);
            let region = spec.model.county_code().to_string();
            let ids: HashSet<&str> = roster.teachers.iter().map(|t| t.id.as_str()).collect();
            let numbers: HashSet<&str> =
                roster.teachers.iter().map(|t| t.number.as_str()).collect();
            assert_eq!(ids.len(), spec.teachers);
            assert_eq!(numbers.len(), spec.teachers);
            for t in &roster.teachers {
                assert!(ResidentId::parse(t.id.as_str(), COUNTY_AGE_DATE).is_ok());
                assert!(t.id.as_str().starts_with(&region));
                assert!(t.number.starts_with(&t.school) && t.number.len() == 14);
            }
        }
    }

    #[test]
    fn every_kind_and_a_rural_school_exist_in_small_and_large_counties() {
        for teachers in [40, 80, 3000] {
            for spec in [
                CountySpec::sixian(teachers, 1),
                CountySpec::ningxia(teachers, 1),
            ] {
                let roster = SampleRoster::county(&spec);
                let kinds: HashSet<SchoolKind> = roster.schools.iter().map(|s| s.kind).collect();
                let expected = HashSet::from([
                    SchoolKind::Kindergarten,
                    SchoolKind::Primary,
                    SchoolKind::JuniorSecondary,
                    SchoolKind::NineYear,
                    SchoolKind::TeacherDevelopmentCentre,
                ]);
                assert_eq!(kinds, expected, "{teachers}");
                assert_eq!(units_by_name(&roster).len(), 10, "{teachers}: every unit");
                assert!(roster.schools.iter().any(|s| s.rural));
                assert!(roster.schools.iter().any(|s| !s.rural));
            }
        }
    }

    #[test]
    fn the_sixian_county_of_3000_follows_the_design_table() {
        let roster = SampleRoster::county(&CountySpec::sixian(3000, 2022));
        let units = units_by_name(&roster);
        let counts: Vec<(&str, usize)> = units.iter().map(|(k, (n, _))| (*k, *n)).collect();
        assert_eq!(
            counts,
            vec![
                ("centre", 1),
                ("seat experimental", 1),
                ("seat junior", 2),
                ("seat kindergarten", 3),
                ("seat primary", 4),
                ("town junior", 15),
                ("town kindergarten", 15),
                ("town nine-year", 6),
                ("town primary", 15),
                ("village", 45),
            ]
        );
        assert_eq!(roster.schools.len(), 107);
        // Teachers per unit kind within a fifth of the table's.
        let table = [
            ("centre", 30),
            ("seat experimental", 110),
            ("seat junior", 220),
            ("seat kindergarten", 90),
            ("seat primary", 360),
            ("town junior", 600),
            ("town kindergarten", 180),
            ("town nine-year", 210),
            ("town primary", 570),
            ("village", 630),
        ];
        for (unit, expected) in table {
            let got = units[unit].1 as f64;
            assert!((got / expected as f64 - 1.0).abs() < 0.2, "{unit}: {got}");
        }
        assert_eq!(roster.schools[0].name, "泗县师资发展中心");
        assert_eq!(roster.schools[0].code, "3413240001");
        let names: HashSet<&str> = roster.schools.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 107, "school names are distinct");
        assert!(names.contains("泗县第一小学") && names.contains("泗县实验学校"));
        assert!(names.contains("大庄镇中心小学") && names.contains("瓦坊乡初级中学"));
        assert!(
            roster
                .schools
                .iter()
                .any(|s| s.name.ends_with("村小学") && s.rural)
        );
    }

    #[test]
    fn school_sizes_add_up_to_the_teachers_asked_for() {
        for teachers in [20, 40, 41, 80, 333, 3000, 3001, 7777, 20_000] {
            for spec in [
                CountySpec::sixian(teachers, 5),
                CountySpec::ningxia(teachers, 5),
            ] {
                let roster = SampleRoster::county(&spec);
                assert_eq!(roster.teachers.len(), teachers);
                assert_eq!(
                    roster.schools.iter().map(|s| s.teachers).sum::<usize>(),
                    teachers
                );
                let mut per_school: HashMap<&str, usize> = HashMap::new();
                for t in &roster.teachers {
                    *per_school.entry(&t.school).or_default() += 1;
                }
                for s in &roster.schools {
                    assert_eq!(per_school[s.code.as_str()], s.teachers, "{}", s.name);
                }
                let names: HashSet<&str> = roster.schools.iter().map(|s| s.name.as_str()).collect();
                assert_eq!(names.len(), roster.schools.len(), "{teachers}");
            }
        }
    }

    #[test]
    fn every_school_has_at_least_two_teachers_and_exactly_one_principal() {
        for teachers in [20, 40, 80, 3000, 20_000] {
            let roster = SampleRoster::county(&CountySpec::ningxia(teachers, 9));
            let min = if teachers >= 3 * roster.schools.len() {
                3
            } else {
                2
            };
            for s in &roster.schools {
                assert!(s.teachers >= min, "{}: {}", s.name, s.teachers);
                let principals: Vec<&SampleTeacher> = roster
                    .teachers
                    .iter()
                    .filter(|t| t.school == s.code && t.roles.contains("校长"))
                    .collect();
                assert_eq!(principals.len(), 1, "{}", s.name);
                assert_eq!(principals[0].number, format!("{}0001", s.code));
                assert_eq!(
                    roster.principal_of(&s.code).map(|p| &p.number),
                    Some(&principals[0].number)
                );
            }
        }
    }

    #[test]
    fn about_a_fifth_of_the_county_is_fifty_or_older_and_kindergartens_are_younger() {
        let roster = SampleRoster::county(&CountySpec::sixian(3000, 2022));
        let ages: Vec<i32> = roster.teachers.iter().map(age).collect();
        assert!(ages.iter().all(|a| (22..=59).contains(a)));
        let share = ages.iter().filter(|a| **a >= 50).count() as f64 / ages.len() as f64;
        assert!((0.15..=0.30).contains(&share), "{share}");
        let over_50_share = |setting: Option<CountySetting>, preschool: bool| {
            let group: Vec<&SampleTeacher> = roster
                .teachers
                .iter()
                .filter(|t| {
                    (t.stage == Stage::Preschool) == preschool
                        && setting.is_none_or(|s| roster.county_setting(&t.school) == Some(s))
                })
                .collect();
            group.iter().filter(|t| age(t) >= 50).count() as f64 / group.len() as f64
        };
        assert!(
            over_50_share(Some(CountySetting::Village), false)
                > over_50_share(Some(CountySetting::CountySeat), false)
        );
        assert!(over_50_share(None, true) < 0.1);
    }

    #[test]
    fn a_ningxia_county_names_its_top_backbones_as_the_region_does() {
        let roster = SampleRoster::county(&CountySpec::ningxia(3000, 11));
        let labels: std::collections::HashSet<&str> =
            roster.teachers.iter().map(|t| t.category).collect();
        assert!(labels.contains("自治区级骨干教师"), "{labels:?}");
        assert!(!labels.contains("省级骨干教师"), "{labels:?}");
    }

    #[test]
    fn sex_stage_subject_category_and_roles_follow_the_school() {
        let roster = SampleRoster::county(&CountySpec::sixian(3000, 11));
        let female_share = |stage: Stage| {
            let group: Vec<_> = roster
                .teachers
                .iter()
                .filter(|t| t.stage == stage)
                .collect();
            group
                .iter()
                .filter(|t| t.id.sex() == tica_domain::Sex::Female)
                .count() as f64
                / group.len() as f64
        };
        assert!(female_share(Stage::Preschool) > 0.9);
        assert!((0.6..0.8).contains(&female_share(Stage::Primary)));
        assert!((0.45..0.65).contains(&female_share(Stage::JuniorSecondary)));
        let schools: HashMap<&str, &SampleSchool> = roster
            .schools
            .iter()
            .map(|s| (s.code.as_str(), s))
            .collect();
        let mut categories: HashMap<&str, usize> = HashMap::new();
        for t in &roster.teachers {
            let school = schools[t.school.as_str()];
            match school.kind {
                SchoolKind::Kindergarten => assert_eq!(t.stage, Stage::Preschool),
                SchoolKind::Primary => assert_eq!(t.stage, Stage::Primary),
                SchoolKind::JuniorSecondary => assert_eq!(t.stage, Stage::JuniorSecondary),
                SchoolKind::NineYear => {
                    assert!(matches!(t.stage, Stage::Primary | Stage::JuniorSecondary))
                }
                _ => {}
            }
            assert_eq!(t.subject.is_empty(), t.stage == Stage::Preschool);
            assert_eq!(t.category == "幼儿园教师", t.stage == Stage::Preschool);
            if school.kind == SchoolKind::TeacherDevelopmentCentre {
                assert!(t.roles.contains("教研员"));
            } else {
                assert!([PRINCIPAL_ROLES, TEACHER_ROLES, AUXILIARY_ROLES].contains(&t.roles));
            }
            *categories.entry(t.category).or_default() += 1;
        }
        let school_staff = (3000 - categories["幼儿园教师"]) as f64;
        let share = |c: &str| categories[c] as f64 / school_staff;
        assert!((0.80..0.90).contains(&share("普通教师")), "{categories:?}");
        assert!(
            (0.08..0.16).contains(&share("市县级骨干教师")),
            "{categories:?}"
        );
        // Anhui's own label (issue 21: a Sixian roster said 自治区级, a Ningxia category).
        assert!(
            (0.01..0.06).contains(&share("省级骨干教师")),
            "{categories:?}"
        );
        assert!(
            !categories.contains_key("自治区级骨干教师"),
            "{categories:?}"
        );
        assert!(roster.teachers.iter().any(|t| t.roles == AUXILIARY_ROLES));
    }

    #[test]
    fn the_ningxia_county_lies_under_640121() {
        let roster = SampleRoster::county(&CountySpec::ningxia(3000, 1));
        let codes: Vec<(String, String, Option<String>)> = roster
            .jurisdictions
            .iter()
            .map(|j| {
                (
                    j.code.to_string(),
                    j.name.clone(),
                    j.parent.map(|p| p.to_string()),
                )
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                ("640000".into(), "宁夏回族自治区".into(), None),
                ("640100".into(), "银川市".into(), Some("640000".into())),
                ("640121".into(), "永宁县".into(), Some("640100".into())),
            ]
        );
        assert_eq!(roster.counties(), vec![code("640121")]);
        for s in &roster.schools {
            assert_eq!(s.county, code("640121"));
            assert!(s.code.starts_with("640121") && s.code.len() == 10);
        }
        assert!(
            roster
                .teachers
                .iter()
                .all(|t| t.id.as_str().starts_with("640121"))
        );
        assert_eq!(roster.schools[0].name, "永宁县教师发展中心");
        let sixian = SampleRoster::county(&CountySpec::sixian(3000, 1));
        assert_eq!(sixian.province(), code("340000"));
        assert_eq!(sixian.counties(), vec![code("341324")]);
    }

    #[test]
    fn the_county_files_pass_the_importers_row_checks() {
        use tica_domain::{PersonRole, TeacherCategory};
        use tica_roster::files::{Encoding, Format, read_table, schools, teachers};

        let roster = SampleRoster::county(&CountySpec::ningxia(300, 4));
        let mut errors = Vec::new();
        let mut school_rows = Vec::new();
        read_table(
            &roster.schools_csv(),
            Format::Csv,
            Encoding::Utf8,
            &SCHOOL_COLUMNS,
            &tica_roster::files::Limits::default(),
            |line, map, cells| match schools::parse_row(line, map, cells) {
                Ok(draft) => school_rows.push(draft),
                Err(e) => errors.extend(e),
            },
        )
        .unwrap();
        assert_eq!(errors, vec![]);
        assert_eq!(school_rows.len(), roster.schools.len());
        for (draft, school) in school_rows.iter().zip(&roster.schools) {
            assert_eq!(
                (&draft.code, draft.kind, draft.rural, draft.jurisdiction),
                (&school.code, school.kind, school.rural, school.county)
            );
            assert_eq!(draft.full_time_teacher_count, school.teachers as i64);
        }

        let centre = &roster.schools[0].code;
        for (bytes, format) in [
            (roster.teachers_csv(), Format::Csv),
            (roster.teachers_xlsx(), Format::Xlsx),
        ] {
            let mut drafts = Vec::new();
            read_table(
                &bytes,
                format,
                Encoding::Utf8,
                &TEACHER_COLUMNS,
                &tica_roster::files::Limits::default(),
                |line, map, cells| match teachers::parse_row(line, map, cells, COUNTY_AGE_DATE) {
                    Ok(draft) => drafts.push(draft),
                    Err(e) => errors.extend(e),
                },
            )
            .unwrap();
            assert_eq!(errors, vec![], "{format:?}");
            assert_eq!(drafts.len(), 300);
            for (draft, t) in drafts.iter().zip(&roster.teachers) {
                assert_eq!(draft.id, t.id);
                assert_eq!(draft.number.as_deref(), Some(t.number.as_str()));
                assert_eq!(draft.stage, t.stage);
                let principal = draft.roles.contains(&PersonRole::Principal);
                assert_eq!(principal, t.number.ends_with("0001"));
                if &draft.school_code == centre {
                    assert!(draft.roles.contains(&PersonRole::TeachingResearcher));
                }
            }
            let categories: HashSet<TeacherCategory> = drafts.iter().map(|d| d.category).collect();
            assert!(categories.contains(&TeacherCategory::Kindergarten));
            assert!(categories.contains(&TeacherCategory::Ordinary));
            assert!(categories.contains(&TeacherCategory::CityCountyBackbone));
        }
    }

    #[test]
    fn county_names_come_from_the_sample_lists_and_match_the_sex() {
        assert!(
            FEMALE_GIVEN
                .iter()
                .chain(MALE_GIVEN)
                .all(|g| GIVEN.contains(g))
        );
        let roster = SampleRoster::county(&CountySpec::sixian(500, 8));
        for t in &roster.teachers {
            let given = if t.id.sex() == tica_domain::Sex::Male {
                MALE_GIVEN
            } else {
                FEMALE_GIVEN
            };
            assert!(
                SURNAMES
                    .iter()
                    .any(|s| t.name.strip_prefix(s).is_some_and(|g| given.contains(&g))),
                "{}",
                t.name
            );
        }
    }

    #[test]
    #[should_panic(expected = "a county needs at least 20 teachers")]
    fn a_county_below_twenty_teachers_is_refused() {
        SampleRoster::county(&CountySpec::sixian(19, 1));
    }
}
