//! A seeded caseload generator: records of the same shape as the recorded caseload
//! (`caseload-10000.jsonl.gz`), so the tests and benchmarks need no file from outside the
//! repository.
//!
//! Each record is a client in Bangladesh (`bd`, Bengali script), Thailand (`th`, Thai),
//! Iran (`ir`, Farsi in Persian script, right to left, with zero-width non-joiners) or
//! Vietnam (`vn`, Latin with diacritics), with a Latin transliteration of the name, an
//! age, sex, village, a phone in the country's format and a household id; the 15
//! assessment fields of the recorded file, with the same keys, JSON types and value
//! domains; 3 distinct goals with target dates and statuses; 5 dated visits, oldest
//! first, half their notes in the local script and half in English; the worker's id;
//! RFC 3339 timestamps (`updated_at` is the last visit, as in the recorded file).
//!
//! Deterministic for a seed, and record *i* depends only on the seed and *i* (it is
//! drawn from ChaCha8 stream *i*), so the first N records are the caseload of size N,
//! as in the recorded file. Only `next_u64` of the ChaCha8 stream is used (the
//! stream is fixed by its specification); the draws from it are this file's own, so no
//! library update can change the output. `generated_records_are_pinned` pins a hash of
//! the first records: changing the output is a visible decision.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{BenchCase, BenchClient, BenchGoal, BenchPlan, BenchVisit, Edit, Edits};

/// Records the generated edits pick their cases from (as the recorded edits do from the
/// 10,000 recorded cases; `sync-bench` maps them onto fewer).
pub const EDIT_CASES: usize = 10_000;
/// Stream of the edits (the records use streams 0, 1, ...).
const EDIT_STREAM: u64 = u64::MAX;

/// The draws of one record or of the edits.
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw(rng)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-40 for these `n`).
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// A country of the generated caseload: its script, names, places and phone format.
struct Region {
    code: &'static str,
    /// (local, Latin, sex) of given names.
    given: &'static [(&'static str, &'static str, &'static str)],
    /// (local, Latin) of family names.
    family: &'static [(&'static str, &'static str)],
    /// Whether the family name comes first (Vietnamese).
    family_first: bool,
    villages: &'static [&'static str],
    goals: &'static [&'static str],
    notes: &'static [&'static str],
    /// "offline follow-up" in the local language (the edits' visit notes).
    follow_up: &'static str,
    /// Country code and the mobile prefixes after it.
    phone_cc: &'static str,
    phone_prefixes: &'static [&'static str],
    /// Digits after the prefix.
    phone_rest: usize,
}

const BD: Region = Region {
    code: "bd",
    given: &[
        ("আনোয়ার", "Anwar", "male"),
        ("আয়েশা", "Ayesha", "female"),
        ("করিম", "Karim", "male"),
        ("জাহিদ", "Zahid", "male"),
        ("তাসলিমা", "Taslima", "female"),
        ("নাসরিন", "Nasrin", "female"),
        ("ফাতেমা", "Fatema", "female"),
        ("মরিয়ম", "Mariam", "female"),
        ("রফিক", "Rafiq", "male"),
        ("রহিমা", "Rahima", "female"),
        ("শিরিন", "Shirin", "female"),
        ("সুমাইয়া", "Sumaiya", "female"),
    ],
    family: &[
        ("আক্তার", "Akter"),
        ("ইসলাম", "Islam"),
        ("উদ্দিন", "Uddin"),
        ("খাতুন", "Khatun"),
        ("বেগম", "Begum"),
        ("রহমান", "Rahman"),
        ("সরকার", "Sarker"),
        ("হোসেন", "Hossain"),
    ],
    family_first: false,
    villages: &[
        "কালীগঞ্জ",
        "চরফ্যাশন",
        "তজুমদ্দিন",
        "দৌলতখান",
        "মনপুরা",
        "রামপুর",
        "লালমোহন",
        "শ্যামনগর",
    ],
    goals: &[
        "চারটি এএনসি ভিজিট সম্পন্ন করা",
        "বিশুদ্ধ পানি ব্যবহার করা",
        "মশারি ব্যবহার নিশ্চিত করা",
        "শিশুর পূর্ণ টিকা নিশ্চিত করা",
        "স্বাস্থ্যকেন্দ্রে প্রসব নিশ্চিত করা",
    ],
    notes: &[
        "আয়রন ট্যাবলেট নিয়মিত খাচ্ছেন",
        "জ্বর নেই, খাবার ঠিকমতো খাচ্ছে",
        "টিকা কার্ড হালনাগাদ করা হয়েছে",
        "পরবর্তী এএনসি ভিজিটের জন্য স্বাস্থ্যকেন্দ্রে পাঠানো হয়েছে",
        "পরিবার পরিকল্পনা নিয়ে আলোচনা হয়েছে",
        "মা ও শিশু দুজনেই ভালো আছে",
    ],
    follow_up: "অফলাইন ফলো-আপ",
    phone_cc: "+880",
    phone_prefixes: &["13", "15", "17", "18", "19"],
    phone_rest: 8,
};

const TH: Region = Region {
    code: "th",
    given: &[
        ("กัญญา", "Kanya", "female"),
        ("นภา", "Napa", "female"),
        ("ประเสริฐ", "Prasert", "male"),
        ("พรทิพย์", "Pornthip", "female"),
        ("มาลี", "Malee", "female"),
        ("วิชัย", "Wichai", "male"),
        ("วิไล", "Wilai", "female"),
        ("สมชาย", "Somchai", "male"),
        ("สมศักดิ์", "Somsak", "male"),
        ("สมหญิง", "Somying", "female"),
        ("สุดา", "Suda", "female"),
        ("อรทัย", "Orathai", "female"),
    ],
    family: &[
        ("จันทร์เพ็ญ", "Chanphen"),
        ("ทองดี", "Thongdee"),
        ("บุญมา", "Boonma"),
        ("พรหมมา", "Promma"),
        ("ศรีสุข", "Srisuk"),
        ("สุขสวัสดิ์", "Suksawat"),
        ("แก้วมณี", "Kaewmanee"),
        ("ใจดี", "Jaidee"),
    ],
    family_first: false,
    villages: &[
        "บ้านดอนแก้ว",
        "บ้านนาคำ",
        "บ้านป่าไผ่",
        "บ้านหนองบัว",
        "บ้านหนองแวง",
        "บ้านห้วยทราย",
        "บ้านโคกสูง",
        "บ้านโนนสว่าง",
    ],
    goals: &[
        "คลอดในโรงพยาบาล",
        "นอนในมุ้งทุกคืน",
        "ฝากครรภ์ครบสี่ครั้ง",
        "เด็กได้รับวัคซีนครบ",
        "ใช้น้ำสะอาดสำหรับดื่ม",
    ],
    notes: &[
        "ทานยาเสริมธาตุเหล็กสม่ำเสมอ",
        "ปรับปรุงสมุดบันทึกวัคซีนแล้ว",
        "ส่งต่อไปโรงพยาบาลส่งเสริมสุขภาพตำบลเพื่อฝากครรภ์",
        "แม่และเด็กสุขภาพดี",
        "ให้คำแนะนำเรื่องการวางแผนครอบครัว",
        "ไม่มีไข้ รับประทานอาหารได้ปกติ",
    ],
    follow_up: "ติดตามเยี่ยมบ้าน",
    phone_cc: "+66",
    phone_prefixes: &["81", "84", "86", "88", "89"],
    phone_rest: 7,
};

const IR: Region = Region {
    code: "ir",
    given: &[
        ("فاطمه", "Fatemeh", "female"),
        ("زهرا", "Zahra", "female"),
        ("مریم", "Maryam", "female"),
        ("سارا", "Sara", "female"),
        ("نرگس", "Narges", "female"),
        ("لیلا", "Leila", "female"),
        ("معصومه", "Masoumeh", "female"),
        ("علی", "Ali", "male"),
        ("محمد", "Mohammad", "male"),
        ("رضا", "Reza", "male"),
        ("حسین", "Hossein", "male"),
        ("مهدی", "Mehdi", "male"),
    ],
    family: &[
        ("احمدی", "Ahmadi"),
        ("رضایی", "Rezaei"),
        ("محمدی", "Mohammadi"),
        ("حسینی", "Hosseini"),
        ("کریمی", "Karimi"),
        ("موسوی", "Mousavi"),
        ("جعفری", "Jafari"),
        ("رحیمی", "Rahimi"),
    ],
    family_first: false,
    villages: &[
        "قلعه‌نو",
        "ده‌نو",
        "کوهسار",
        "چشمه‌سار",
        "سرآب",
        "گلستان",
        "باغ‌ملک",
        "زیارت",
    ],
    goals: &[
        "تکمیل واکسیناسیون کودک",
        "انجام چهار مراقبت بارداری",
        "زایمان در مرکز بهداشتی",
        "استفاده از پشه‌بند هر شب",
        "استفاده از آب آشامیدنی سالم",
    ],
    notes: &[
        "مادر و کودک هر دو سالم هستند",
        "کارت واکسن به‌روز شد",
        "قرص آهن را مرتب مصرف می‌کند",
        "تب ندارد، غذا را خوب می‌خورد",
        "درباره تنظیم خانواده صحبت شد",
        "برای مراقبت بارداری بعدی به مرکز بهداشت ارجاع شد",
    ],
    follow_up: "پیگیری آفلاین",
    phone_cc: "+98",
    phone_prefixes: &["901", "912", "919", "921", "935"],
    phone_rest: 7,
};

const VN: Region = Region {
    code: "vn",
    given: &[
        ("Thị Hoa", "Thi Hoa", "female"),
        ("Thị Lan", "Thi Lan", "female"),
        ("Thị Mai", "Thi Mai", "female"),
        ("Thị Hương", "Thi Huong", "female"),
        ("Thị Thu", "Thi Thu", "female"),
        ("Thị Ngọc", "Thi Ngoc", "female"),
        ("Thị Hằng", "Thi Hang", "female"),
        ("Văn Hùng", "Van Hung", "male"),
        ("Văn Minh", "Van Minh", "male"),
        ("Văn Dũng", "Van Dung", "male"),
        ("Văn Tuấn", "Van Tuan", "male"),
        ("Văn Đức", "Van Duc", "male"),
    ],
    family: &[
        ("Nguyễn", "Nguyen"),
        ("Trần", "Tran"),
        ("Lê", "Le"),
        ("Phạm", "Pham"),
        ("Hoàng", "Hoang"),
        ("Huỳnh", "Huynh"),
        ("Võ", "Vo"),
        ("Đặng", "Dang"),
    ],
    family_first: true,
    villages: &[
        "Thôn An Phú",
        "Thôn Đồng Tâm",
        "Thôn Phước Lộc",
        "Thôn Hòa Bình",
        "Thôn Tân Lập",
        "Thôn Bình Minh",
        "Thôn Thạnh Mỹ",
        "Thôn Cẩm Lệ",
    ],
    goals: &[
        "Trẻ được tiêm chủng đầy đủ",
        "Khám thai đủ bốn lần",
        "Sinh con tại cơ sở y tế",
        "Ngủ màn mỗi đêm",
        "Dùng nước sạch để uống",
    ],
    notes: &[
        "Mẹ và bé đều khỏe mạnh",
        "Đã cập nhật sổ tiêm chủng",
        "Uống viên sắt đều đặn",
        "Không sốt, ăn uống bình thường",
        "Đã tư vấn về kế hoạch hóa gia đình",
        "Chuyển lên trạm y tế để khám thai lần sau",
    ],
    follow_up: "Thăm khám ngoại tuyến",
    phone_cc: "+84",
    phone_prefixes: &["32", "35", "38", "86", "90", "93", "96", "97", "98"],
    phone_rest: 7,
};

/// The regions, drawn with equal weight.
const REGIONS: [&Region; 4] = [&BD, &TH, &IR, &VN];

/// Visit notes in English (every region).
const ENGLISH_NOTES: &[&str] = &[
    "Client reports mild headache, BP rechecked and normal. Follow up in one week.",
    "Counselled on danger signs in pregnancy; client knows to go to facility if bleeding.",
    "Delivered ORS and zinc; diarrhoea improving. Household hand-washing station present.",
    "Discussed birth preparedness plan with husband and mother-in-law.",
    "Missed last appointment due to floods; rescheduled clinic visit.",
    "RDT done for fever, result negative. Advised paracetamol and return if worse.",
    "Weighed child, growth on track. Reminded caregiver about exclusive breastfeeding.",
];

const VISIT_TYPES: &[&str] = &[
    "anc",
    "family_planning",
    "follow_up",
    "immunization",
    "malaria",
    "nutrition",
    "pnc",
];
const GOAL_STATUSES: &[&str] = &["open", "in_progress", "done"];
const HIV_STATUS: &[&str] = &["positive", "negative", "unknown", "declined"];
const TB_SCREENING: &[&str] = &["no_symptoms", "cough_2wk", "referred", "on_treatment"];
const MALARIA_RDT: &[&str] = &["negative", "positive_pf", "positive_pv", "not_done"];
const WATER_SOURCE: &[&str] = &["piped", "tube_well", "pond", "rain_water", "bottled"];
const LATRINE_TYPE: &[&str] = &["improved", "unimproved", "shared", "none"];
const FAMILY_PLANNING: &[&str] = &["pill", "injectable", "implant", "iud", "condom"];
const RISK_LEVEL: &[&str] = &["low", "medium", "high"];
/// Health workers `chw-001` ..= `chw-060`.
const CHWS: u32 = 60;

fn region_of(code: &str) -> &'static Region {
    REGIONS
        .iter()
        .copied()
        .find(|r| r.code == code)
        .unwrap_or(&BD)
}

fn day(d: NaiveDate, plus: u32) -> NaiveDate {
    d.checked_add_days(Days::new(u64::from(plus)))
        .unwrap_or(NaiveDate::MAX)
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn phone(d: &mut Draw, r: &Region) -> String {
    let prefix = d.pick(r.phone_prefixes);
    format!("{}{prefix}{}", r.phone_cc, d.digits(r.phone_rest))
}

/// The 15 assessment fields, with the keys, JSON types and value domains of the
/// recorded file (`gestational_age_weeks` is null unless `pregnant`; `weight_kg` has
/// one decimal and is an integer when that decimal is 0).
fn assessment(d: &mut Draw, sex: &str, age: u32) -> BTreeMap<String, Value> {
    let pregnant = sex == "female" && age <= 49 && d.chance(1, 2);
    let weight_tenths = d.range(380, 780);
    let (whole, tenths) = (weight_tenths / 10, weight_tenths % 10);
    let weight = if tenths == 0 {
        json!(whole)
    } else {
        json!(f64::from(weight_tenths) / 10.0)
    };
    let family_planning = if d.chance(4, 9) {
        "none"
    } else {
        d.pick(FAMILY_PLANNING)
    };
    let fields = [
        ("pregnant", json!(pregnant)),
        (
            "gestational_age_weeks",
            if pregnant {
                json!(d.range(6, 40))
            } else {
                Value::Null
            },
        ),
        ("muac_mm", json!(d.range(190, 290))),
        ("weight_kg", weight),
        ("height_cm", json!(d.range(140, 180))),
        ("bp_systolic", json!(d.range(95, 150))),
        ("bp_diastolic", json!(d.range(60, 95))),
        ("hiv_status", json!(d.pick(HIV_STATUS))),
        ("tb_screening", json!(d.pick(TB_SCREENING))),
        ("malaria_rdt", json!(d.pick(MALARIA_RDT))),
        ("bednet_use", json!(d.chance(1, 2))),
        ("water_source", json!(d.pick(WATER_SOURCE))),
        ("latrine_type", json!(d.pick(LATRINE_TYPE))),
        ("family_planning", json!(family_planning)),
        ("risk_level", json!(d.pick(RISK_LEVEL))),
    ];
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Record `index` (0-based) of the caseload generated from `seed`.
pub fn generated_case(seed: u64, index: usize) -> BenchCase {
    let mut d = Draw::new(seed, index as u64);
    let r = REGIONS[d.below(REGIONS.len())];
    let (given, given_latin, sex) = r.given[d.below(r.given.len())];
    let (family, family_latin) = r.family[d.below(r.family.len())];
    let (name, name_latin) = if r.family_first {
        (
            format!("{family} {given}"),
            format!("{family_latin} {given_latin}"),
        )
    } else {
        (
            format!("{given} {family}"),
            format!("{given_latin} {family_latin}"),
        )
    };
    let age = d.range(16, 70);
    let chw_id = format!("chw-{:03}", d.range(1, CHWS));
    let client = BenchClient {
        name,
        name_latin,
        age: Some(age),
        sex: Some(sex.to_owned()),
        village: d.pick(r.villages).to_owned(),
        phone: Some(phone(&mut d, r)),
        household_id: Some(format!("hh-{:06}", d.range(1, 999_999))),
    };
    let assessment = assessment(&mut d, sex, age);

    let first_day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    let created = day(first_day, d.range(0, 179));
    let mut goals: Vec<&str> = r.goals.to_vec();
    let goals = (0..3)
        .map(|_| {
            let goal = goals.remove(d.below(goals.len()));
            BenchGoal {
                goal: goal.to_owned(),
                target_date: Some(ymd(day(created, d.range(60, 270)))),
                status: d.pick(GOAL_STATUSES).to_owned(),
            }
        })
        .collect();
    let mut date = created;
    let visits: Vec<BenchVisit> = (0..5)
        .map(|_| {
            date = day(date, d.range(7, 35));
            let kind = d.pick(VISIT_TYPES).to_owned();
            let note = if d.chance(1, 2) {
                d.pick(ENGLISH_NOTES)
            } else {
                d.pick(r.notes)
            };
            BenchVisit {
                date: ymd(date),
                chw_id: chw_id.clone(),
                kind,
                note: note.to_owned(),
            }
        })
        .collect();
    BenchCase {
        case_id: format!("case-{:06}", index + 1),
        region: r.code.to_owned(),
        chw_id,
        client,
        assessment,
        plan: BenchPlan { goals },
        visits,
        created_at: format!("{}T00:00:00.000Z", ymd(created)),
        updated_at: format!("{}T10:00:00.000Z", ymd(date)),
    }
}

/// The first `n` records of the caseload generated from `seed`.
pub fn generated_caseload(seed: u64, n: usize) -> Vec<BenchCase> {
    (0..n).map(|i| generated_case(seed, i)).collect()
}

/// The offline edits of the caseload generated from `seed`, shaped like `edits.json`:
/// sets `B` and `B2` of 5 edits each on distinct cases among the first [`EDIT_CASES`],
/// changing in turn `assessment.risk_level`, `assessment.muac_mm`, `client.phone`,
/// `assessment.bp_systolic` and `assessment.malaria_rdt` (to a value that differs from
/// the case's), each with a follow-up visit by `chw-099` (`B` from 2025-01-10, `B2` from
/// 2025-02-10) noted in the case's language and English.
pub fn generated_edits(seed: u64) -> Edits {
    let mut d = Draw::new(seed, EDIT_STREAM);
    let mut used = Vec::new();
    let mut set = |name: &str, first: NaiveDate, suffix: &str| -> Vec<Edit> {
        (0..5u32)
            .map(|k| {
                let index = loop {
                    let i = d.below(EDIT_CASES);
                    if !used.contains(&i) {
                        used.push(i);
                        break i;
                    }
                };
                let case = generated_case(seed, index);
                let region = region_of(&case.region);
                let other = |d: &mut Draw, field: &str, domain: &[&str]| {
                    let current = case.assessment.get(field).and_then(Value::as_str);
                    let choices: Vec<&str> = domain
                        .iter()
                        .copied()
                        .filter(|v| Some(*v) != current)
                        .collect();
                    json!(d.pick(&choices))
                };
                let (path, value) = match k {
                    0 => (
                        ["assessment", "risk_level"],
                        other(&mut d, "risk_level", RISK_LEVEL),
                    ),
                    1 => (["assessment", "muac_mm"], json!(d.range(180, 290))),
                    2 => (["client", "phone"], json!(phone(&mut d, region))),
                    3 => (["assessment", "bp_systolic"], json!(d.range(95, 170))),
                    _ => (
                        ["assessment", "malaria_rdt"],
                        other(&mut d, "malaria_rdt", MALARIA_RDT),
                    ),
                };
                Edit {
                    set: name.to_owned(),
                    index,
                    case_id: case.case_id.clone(),
                    path: path.iter().map(|s| (*s).to_owned()).collect(),
                    value,
                    visit: BenchVisit {
                        date: ymd(day(first, k)),
                        chw_id: "chw-099".into(),
                        kind: "follow_up".into(),
                        note: format!(
                            "{}: offline follow-up visit #{}{suffix}, referred to facility.",
                            region.follow_up,
                            k + 1
                        ),
                    },
                }
            })
            .collect()
    };
    let b = set(
        "B",
        NaiveDate::from_ymd_opt(2025, 1, 10).unwrap_or_default(),
        "",
    );
    let b2 = set(
        "B2",
        NaiveDate::from_ymd_opt(2025, 2, 10).unwrap_or_default(),
        " (second round)",
    );
    Edits { b, b2 }
}
