//! A deterministic generator of all five feeds at any scale, streamed to disk.
//!
//! The unit tree uses real province, district and ward names (SPEC §8 and
//! more); proportions follow what provinces report (most dossiers resolved on
//! time, a third to a half handled online, fees mostly cashless in the pilot
//! units). Exports look like real ones: Vietnamese day-first dates beside ISO
//! ones, enum values with and without diacritics, thousands separators,
//! dossiers re-sent with a later status, events re-sent, portal sessions that
//! span midnight and month ends. The same seed and size give the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Timelike};

use crate::error::{Error, Result};
use crate::feeds::Feed;

/// SplitMix64: tiny, fast, and fixed forever, so samples never change under a
/// dependency upgrade.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks by weight from `(item, weight)` pairs.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.f64() * total;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub level: &'static str,
    pub parent: Option<usize>,
    pub adults: Option<u64>,
    /// Index of the province this unit belongs to.
    pub province: usize,
    /// Pilot units sign and pay digitally more (SPEC §8).
    pub pilot: bool,
}

struct ProvinceSeed {
    code: &'static str,
    name: &'static str,
    cccd: u32,
    districts: &'static [&'static str],
    departments: &'static [&'static str],
}

const PROVINCES: &[ProvinceSeed] = &[
    ProvinceSeed {
        code: "01",
        name: "Thành phố Hà Nội",
        cccd: 1,
        districts: &[
            "Quận Ba Đình",
            "Quận Hoàn Kiếm",
            "Quận Tây Hồ",
            "Quận Long Biên",
            "Quận Cầu Giấy",
            "Quận Đống Đa",
            "Quận Hai Bà Trưng",
            "Quận Hoàng Mai",
            "Quận Thanh Xuân",
            "Huyện Sóc Sơn",
            "Huyện Đông Anh",
            "Huyện Gia Lâm",
            "Quận Nam Từ Liêm",
            "Huyện Thanh Trì",
            "Quận Bắc Từ Liêm",
            "Huyện Mê Linh",
            "Quận Hà Đông",
            "Thị xã Sơn Tây",
            "Huyện Ba Vì",
            "Huyện Phúc Thọ",
            "Huyện Đan Phượng",
            "Huyện Hoài Đức",
            "Huyện Quốc Oai",
            "Huyện Thạch Thất",
            "Huyện Chương Mỹ",
            "Huyện Thanh Oai",
            "Huyện Thường Tín",
            "Huyện Phú Xuyên",
            "Huyện Ứng Hòa",
            "Huyện Mỹ Đức",
        ],
        departments: &[
            "Sở Giao thông Vận tải Hà Nội",
            "Cục Thuế thành phố Hà Nội",
            "Sở Tư pháp Hà Nội",
            "Sở Kế hoạch và Đầu tư Hà Nội",
            "Sở Tài nguyên và Môi trường Hà Nội",
        ],
    },
    ProvinceSeed {
        code: "10",
        name: "Tỉnh Lào Cai",
        cccd: 10,
        districts: &[
            "Thành phố Lào Cai",
            "Huyện Bát Xát",
            "Huyện Mường Khương",
            "Huyện Si Ma Cai",
            "Huyện Bắc Hà",
            "Huyện Bảo Thắng",
            "Huyện Bảo Yên",
            "Thị xã Sa Pa",
            "Huyện Văn Bàn",
        ],
        departments: &["Sở Tư pháp Lào Cai", "Sở Kế hoạch và Đầu tư Lào Cai"],
    },
    ProvinceSeed {
        code: "31",
        name: "Thành phố Hải Phòng",
        cccd: 31,
        districts: &[
            "Quận Hồng Bàng",
            "Quận Ngô Quyền",
            "Quận Lê Chân",
            "Quận Hải An",
            "Quận Kiến An",
            "Quận Đồ Sơn",
            "Quận Dương Kinh",
            "Huyện Thủy Nguyên",
            "Huyện An Dương",
            "Huyện An Lão",
            "Huyện Kiến Thụy",
            "Huyện Tiên Lãng",
            "Huyện Vĩnh Bảo",
            "Huyện Cát Hải",
        ],
        departments: &["Sở Tư pháp Hải Phòng"],
    },
    ProvinceSeed {
        code: "46",
        name: "Tỉnh Thừa Thiên Huế",
        cccd: 46,
        districts: &[
            "Thành phố Huế",
            "Huyện Phong Điền",
            "Huyện Quảng Điền",
            "Huyện Phú Vang",
            "Thị xã Hương Thủy",
            "Thị xã Hương Trà",
            "Huyện A Lưới",
            "Huyện Phú Lộc",
            "Huyện Nam Đông",
        ],
        departments: &["Sở Tư pháp Thừa Thiên Huế"],
    },
    ProvinceSeed {
        code: "48",
        name: "Thành phố Đà Nẵng",
        cccd: 48,
        districts: &[
            "Quận Hải Châu",
            "Quận Thanh Khê",
            "Quận Sơn Trà",
            "Quận Ngũ Hành Sơn",
            "Quận Liên Chiểu",
            "Quận Cẩm Lệ",
            "Huyện Hòa Vang",
        ],
        departments: &["Sở Thông tin và Truyền thông Đà Nẵng"],
    },
    ProvinceSeed {
        code: "92",
        name: "Thành phố Cần Thơ",
        cccd: 92,
        districts: &[
            "Quận Ninh Kiều",
            "Quận Bình Thủy",
            "Quận Cái Răng",
            "Quận Ô Môn",
            "Quận Thốt Nốt",
            "Huyện Phong Điền",
            "Huyện Cờ Đỏ",
            "Huyện Thới Lai",
            "Huyện Vĩnh Thạnh",
        ],
        departments: &["Sở Tư pháp Cần Thơ"],
    },
];

/// The real wards of Long Biên, home of the pilot ward Sài Đồng.
const LONG_BIEN_WARDS: &[&str] = &[
    "Phường Sài Đồng",
    "Phường Bồ Đề",
    "Phường Gia Thụy",
    "Phường Ngọc Lâm",
    "Phường Phúc Đồng",
    "Phường Phúc Lợi",
    "Phường Thạch Bàn",
    "Phường Việt Hưng",
    "Phường Long Biên",
    "Phường Cự Khối",
    "Phường Giang Biên",
    "Phường Đức Giang",
    "Phường Thượng Thanh",
    "Phường Ngọc Thụy",
];

const COMMUNE_NAMES: &[&str] = &[
    "An Khánh",
    "Tân Hội",
    "Phú Lương",
    "Minh Khai",
    "Quang Trung",
    "Trần Phú",
    "Hòa Bình",
    "Tân Lập",
    "Đồng Tâm",
    "Thanh Lương",
    "Yên Sở",
    "Kim Chung",
    "Vân Canh",
    "Đại Mỗ",
    "Phú Diễn",
    "Xuân Phương",
    "Liên Mạc",
    "Hồng Hà",
    "Tiền Phong",
    "Thắng Lợi",
    "Nghĩa Đô",
    "Cát Linh",
    "Văn Miếu",
    "Hàng Bông",
    "Hàng Trống",
    "Lý Thái Tổ",
    "Tràng Tiền",
    "Phan Chu Trinh",
    "Bình Minh",
    "Hưng Đạo",
    "Lạc Long Quân",
    "Phước Mỹ",
    "An Hải",
    "Mỹ An",
    "Khuê Trung",
    "Hòa Khánh",
    "Hòa Minh",
    "Thuận Phước",
    "Phú Hội",
    "Vĩnh Ninh",
    "Tây Lộc",
    "Kim Long",
    "Cốc Lếu",
    "Duyên Hải",
    "Bắc Lệnh",
    "Ô Quý Hồ",
    "Tả Van",
    "Bản Hồ",
    "Cái Khế",
    "An Bình",
];

/// SPEC §8's pilot units of Hà Nội.
const PILOTS: &[&str] = &[
    "Quận Hoàn Kiếm",
    "Quận Long Biên",
    "Huyện Mỹ Đức",
    "Huyện Chương Mỹ",
    "Huyện Ba Vì",
    "Huyện Ứng Hòa",
    "Huyện Mê Linh",
    "Huyện Đan Phượng",
    "Huyện Thanh Oai",
    "Huyện Phú Xuyên",
    "Sở Giao thông Vận tải Hà Nội",
    "Cục Thuế thành phố Hà Nội",
    "Phường Sài Đồng",
];

/// Builds the unit tree: provinces, their districts and departments, and
/// 5–10 communes or wards under each district.
pub fn unit_tree(seed: u64) -> Vec<Unit> {
    let mut rng = Rng::new(seed ^ 0x0051_7E55);
    let mut units: Vec<Unit> = Vec::new();
    let mut district_no = 0u32;
    let mut commune_no = 0u32;
    for (p, province) in PROVINCES.iter().enumerate() {
        let province_index = units.len();
        units.push(Unit {
            code: province.code.to_string(),
            name: province.name.to_string(),
            level: "province",
            parent: None,
            adults: None,
            province: p,
            pilot: false,
        });
        for name in province.departments.iter() {
            let abbreviation: String = name
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .filter(|c| c.is_uppercase())
                .collect();
            units.push(Unit {
                code: format!(
                    "{}-{}",
                    province.code,
                    crate::values::normalize_token(&abbreviation).to_uppercase()
                ),
                name: name.to_string(),
                level: "department",
                parent: Some(province_index),
                adults: None,
                province: p,
                pilot: PILOTS.contains(name),
            });
        }
        for district in province.districts.iter() {
            district_no += 1;
            let district_index = units.len();
            let district_pilot = PILOTS.contains(district);
            units.push(Unit {
                code: format!("{district_no:03}"),
                name: district.to_string(),
                level: "district",
                parent: Some(province_index),
                adults: None,
                province: p,
                pilot: district_pilot,
            });
            let urban = district.starts_with("Quận") || district.starts_with("Thành phố");
            let names: Vec<String> = if *district == "Quận Long Biên" {
                LONG_BIEN_WARDS.iter().map(|s| s.to_string()).collect()
            } else {
                let count = rng.range(5, 11) as usize;
                let start = rng.below(COMMUNE_NAMES.len() as u64) as usize;
                (0..count)
                    .map(|k| {
                        let base = COMMUNE_NAMES[(start + k * 7) % COMMUNE_NAMES.len()];
                        format!("{} {base}", if urban { "Phường" } else { "Xã" })
                    })
                    .collect()
            };
            for name in names {
                commune_no += 1;
                let adults = rng.range(4_000, 30_000) as u64;
                units.push(Unit {
                    code: format!("{commune_no:05}"),
                    pilot: district_pilot || PILOTS.contains(&name.as_str()),
                    name,
                    level: "commune",
                    parent: Some(district_index),
                    adults: Some(adults),
                    province: p,
                });
            }
        }
    }
    // Districts and provinces count the adults of their communes.
    for i in (0..units.len()).rev() {
        if let (Some(adults), Some(parent)) = (units[i].adults, units[i].parent)
            && units[parent].level != "department"
        {
            let sum = units[parent].adults.unwrap_or(0) + adults;
            units[parent].adults = Some(sum);
        }
    }
    units
}

/// The files `generate` writes, one per feed, in the order to ingest them
/// (the registry and targets before the activity that refers to them).
pub const FILES: [(Feed, &str); 5] = [
    (Feed::Units, "units.csv"),
    (Feed::Targets, "targets.csv"),
    (Feed::Dossiers, "dossiers.csv"),
    (Feed::PortalEvents, "portal_events.ndjson"),
    (Feed::Signatures, "signatures.csv"),
];

/// Where `generate` writes `feed` in `out`.
pub fn file_of(out: &Path, feed: Feed) -> PathBuf {
    let name = FILES
        .iter()
        .find(|(f, _)| *f == feed)
        .map_or("", |(_, name)| name);
    out.join(name)
}

/// What `generate` wrote.
#[derive(Debug, Clone, Default)]
pub struct SampleReport {
    pub units: u64,
    pub targets: u64,
    pub dossiers: u64,
    pub dossier_rows: u64,
    pub portal_events: u64,
    pub signatures: u64,
    pub files: Vec<PathBuf>,
}

/// The local calendar the sample covers: all of 2024 and January 2025.
const START: (i32, u32, u32) = (2024, 1, 1);
const END: (i32, u32, u32) = (2025, 2, 1);
/// Asia/Ho_Chi_Minh is UTC+7 all year: sample times are built as local
/// seconds and written with that offset.
const OFFSET_SECONDS: i64 = 7 * 3600;

fn local_seconds(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d)
        .map(|d| {
            d.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp()
        })
        .unwrap_or(0)
}

/// Writes `units.csv`, `targets.csv`, `dossiers.csv`, `portal_events.ndjson`
/// and `signatures.csv` into `out`.
pub fn generate(out: &Path, dossiers: u64, seed: u64) -> Result<SampleReport> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let units = unit_tree(seed);
    let mut report = SampleReport::default();
    write_units(out, &units, &mut report)?;
    write_targets(out, &units, &mut report)?;
    write_activity(out, &units, dossiers, seed, &mut report)?;
    Ok(report)
}

fn csv_writer(path: &Path) -> Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BufWriter::with_capacity(1 << 20, file)))
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

fn write_units(out: &Path, units: &[Unit], report: &mut SampleReport) -> Result<()> {
    let path = file_of(out, Feed::Units);
    let mut w = csv_writer(&path)?;
    let err = |e| csv_error(&path, e);
    w.write_record([
        "unit_code",
        "name",
        "level",
        "parent_code",
        "adult_population",
    ])
    .map_err(err)?;
    for unit in units {
        let parent = unit.parent.map(|p| units[p].code.as_str()).unwrap_or("");
        let adults = unit.adults.map(|a| a.to_string()).unwrap_or_default();
        w.write_record([unit.code.as_str(), &unit.name, unit.level, parent, &adults])
            .map_err(err)?;
        report.units += 1;
    }
    w.flush().map_err(|e| Error::io(&path, e))?;
    report.files.push(path);
    Ok(())
}

fn write_targets(out: &Path, units: &[Unit], report: &mut SampleReport) -> Result<()> {
    let path = file_of(out, Feed::Targets);
    let mut w = csv_writer(&path)?;
    let err = |e| csv_error(&path, e);
    w.write_record(["kpi", "unit_code", "year", "target", "grain"])
        .map_err(err)?;
    let every_unit: &[(&str, &str)] = &[
        ("on_time_rate", "95%"),
        ("processed_online_rate", "0.8"),
        ("e_result_rate", "0.9"),
        ("result_signed_rate", "90%"),
        ("online_rate", "0.7"),
        ("full_online_rate", "80%"),
        ("digitized_rate", "100%"),
        ("applicant_signed_rate", "0.5"),
        ("online_payment_rate", "45%"),
        ("cashless_rate", "40%"),
        ("cashless_value_rate", "0.5"),
        ("satisfaction_rate", "90%"),
        ("portal_completion_rate", "0.7"),
        ("vneid_share", "60%"),
        ("payment_success_rate", "0.95"),
        ("document_signing_rate", "80%"),
        ("median_processing_days", "5"),
        ("certificates_per_1000_adults", "5"),
    ];
    for year in ["2024", "2025"] {
        for (kpi, target) in every_unit {
            w.write_record([*kpi, "*", year, *target, ""])
                .map_err(err)?;
            report.targets += 1;
        }
        w.write_record(["overdue_open", "*", year, "10", "month"])
            .map_err(err)?;
        report.targets += 1;
        // SPEC §8: Lào Cai's Q1 figures; Hà Nội's full signing; Sài Đồng's pilot.
        let specific: Vec<(&str, &str, &str, &str)> = vec![
            ("full_online_rate", "10", "95%", ""),
            ("cashless_rate", "10", "40%", "quarter"),
            ("document_signing_rate", "01", "100%", ""),
            ("full_online_rate", "01", "0.97", "month"),
        ];
        for (kpi, unit, target, grain) in specific {
            w.write_record([kpi, unit, year, target, grain])
                .map_err(err)?;
            report.targets += 1;
        }
        if let Some(sai_dong) = units.iter().find(|u| u.name == "Phường Sài Đồng") {
            w.write_record([
                "document_signing_rate",
                sai_dong.code.as_str(),
                year,
                "100%",
                "",
            ])
            .map_err(err)?;
            report.targets += 1;
        }
    }
    w.flush().map_err(|e| Error::io(&path, e))?;
    report.files.push(path);
    Ok(())
}

/// Formats local seconds as a Vietnamese export would: day-first most of
/// the time, ISO with the +07:00 offset otherwise.
fn format_local(secs: i64, day_first: bool, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    use std::fmt::Write as _;
    if day_first {
        let _ = write!(
            buf,
            "{:02}/{:02}/{} {:02}:{:02}:{:02}",
            t.day(),
            t.month(),
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        );
    } else {
        let _ = write!(
            buf,
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}+07:00",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
    }
}

/// The same instant in UTC with `Z`, as the portal exports it.
fn format_utc_z(local_secs: i64, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(local_secs - OFFSET_SECONDS, 0)
        .unwrap_or_default()
        .naive_utc();
    use std::fmt::Write as _;
    let _ = write!(
        buf,
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
}

fn format_date(secs: i64, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    use std::fmt::Write as _;
    let _ = write!(buf, "{:02}/{:02}/{}", t.day(), t.month(), t.year());
}

/// Formats a fee as exports do: plain, or with Vietnamese grouping.
fn format_fee(fee: i64, style: u64) -> String {
    if fee == 0 || style < 6 {
        return fee.to_string();
    }
    let digits = fee.to_string();
    let sep = if style < 8 { '.' } else { ',' };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

struct Procedure {
    code: String,
    online_level: &'static str,
    days: i64,
    fee: i64,
}

fn procedures(rng: &mut Rng) -> Vec<Procedure> {
    (0..60)
        .map(|i| {
            let online_level = *rng.weighted(&[("full", 0.4), ("partial", 0.35), ("none", 0.25)]);
            Procedure {
                code: format!("1.{:06}.000.00.00.H{:02}", 1000 + i * 37, i % 64),
                online_level,
                days: *rng.pick(&[1, 3, 5, 5, 7, 10, 15, 20, 30]),
                fee: if rng.chance(0.45) {
                    rng.range(2, 60) * 10_000
                } else {
                    0
                },
            }
        })
        .collect()
}

const DOSSIER_HEADER: [&str; 22] = [
    "dossier_id",
    "procedure_code",
    "unit_code",
    "channel",
    "online_level",
    "status",
    "received_at",
    "due_at",
    "completed_at",
    "returned_at",
    "updated_at",
    "processed_online",
    "digitized",
    "e_result",
    "applicant_signed",
    "result_signed",
    "fee_vnd",
    "payment_method",
    "paid_online",
    "satisfaction",
    "applicant_id",
    "applicant_type",
];

struct Writers {
    dossiers: csv::Writer<BufWriter<File>>,
    portal: BufWriter<File>,
    signatures: csv::Writer<BufWriter<File>>,
    paths: [PathBuf; 3],
}

fn write_activity(
    out: &Path,
    units: &[Unit],
    dossiers: u64,
    seed: u64,
    report: &mut SampleReport,
) -> Result<()> {
    let paths = [
        file_of(out, Feed::Dossiers),
        file_of(out, Feed::PortalEvents),
        file_of(out, Feed::Signatures),
    ];
    let portal_file = File::create(&paths[1]).map_err(|e| Error::io(&paths[1], e))?;
    let mut w = Writers {
        dossiers: csv_writer(&paths[0])?,
        portal: BufWriter::with_capacity(1 << 20, portal_file),
        signatures: csv_writer(&paths[2])?,
        paths: paths.clone(),
    };
    w.dossiers
        .write_record(DOSSIER_HEADER)
        .map_err(|e| csv_error(&paths[0], e))?;
    w.signatures
        .write_record([
            "event_id",
            "occurred_at",
            "unit_code",
            "event_type",
            "signed",
            "signer_type",
            "provider",
            "free_of_charge",
        ])
        .map_err(|e| csv_error(&paths[2], e))?;

    let mut rng = Rng::new(seed);
    let procs = procedures(&mut rng);
    let by_level = |level: &str| -> Vec<usize> {
        (0..units.len())
            .filter(|i| units[*i].level == level)
            .collect()
    };
    let levels = [
        (by_level("commune"), 0.62),
        (by_level("district"), 0.28),
        (by_level("department"), 0.07),
        (by_level("province"), 0.03),
    ];
    let level_weights: Vec<(usize, f64)> = levels
        .iter()
        .enumerate()
        .map(|(i, (_, w))| (i, *w))
        .collect();
    let start = local_seconds(START.0, START.1, START.2);
    let end = local_seconds(END.0, END.1, END.2);
    let mut generator = Generator {
        rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
        event_seq: 0,
        buf: [
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
        end,
    };
    for i in 0..dossiers {
        let level = *rng.weighted(&level_weights);
        let unit_index = *rng.pick(&levels[level].0);
        let procedure = rng.pick(&procs);
        generator.dossier(i, &units[unit_index], procedure, start, &mut w, report)?;
        // Outgoing documents and certificates scale with the dossiers.
        if i % 2 == 0 {
            generator.document(units, start, &mut w, report)?;
        }
        if i % 12 == 0 {
            generator.certificate(units, &levels[0].0, start, &mut w, report)?;
        }
    }
    w.dossiers.flush().map_err(|e| Error::io(&w.paths[0], e))?;
    w.portal.flush().map_err(|e| Error::io(&w.paths[1], e))?;
    w.signatures
        .flush()
        .map_err(|e| Error::io(&w.paths[2], e))?;
    report.dossiers = dossiers;
    report.files.extend(paths);
    Ok(())
}

/// (local time, event type, payment method and amount)
type PortalEvent<'a> = (i64, &'a str, Option<(&'a str, i64)>);

struct Generator {
    rng: Rng,
    event_seq: u64,
    buf: [String; 5],
    end: i64,
}

/// Seconds into the day: office hours at a counter, any time online.
fn time_of_day(rng: &mut Rng, online: bool) -> i64 {
    if online {
        rng.range(0, 86_400)
    } else {
        rng.range(7 * 3600 + 1800, 17 * 3600)
    }
}

impl Generator {
    fn dossier(
        &mut self,
        i: u64,
        unit: &Unit,
        procedure: &Procedure,
        start: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let rng = &mut self.rng;
        let online_level = procedure.online_level;
        let channel = match online_level {
            "full" if rng.chance(if unit.pilot { 0.9 } else { 0.7 }) => "online",
            "partial" if rng.chance(0.5) => "online",
            _ if rng.chance(0.08) => "postal",
            _ => "counter",
        };
        let online = channel == "online";
        let days = (self.end - start) / 86_400;
        let day = rng.range(0, days);
        let received = start + day * 86_400 + time_of_day(rng, online);
        let due = (!rng.chance(0.08)).then(|| received + procedure.days * 86_400);
        let due_as_date = rng.chance(0.3);
        let roll = rng.f64();
        let on_time = rng.chance(if unit.pilot { 0.95 } else { 0.88 });
        let budget = procedure.days as f64 * 86_400.0;
        let duration = if on_time {
            (budget * rng.f64().max(0.02)) as i64
        } else {
            (budget * (1.0 + rng.f64())) as i64 + 3600
        };
        let completed = received + duration;
        let final_status = if roll < 0.84 {
            if rng.chance(0.6) {
                "returned"
            } else {
                "resolved"
            }
        } else if roll < 0.88 {
            "withdrawn"
        } else if roll < 0.92 {
            "rejected"
        } else {
            "in_progress"
        };
        let returned = completed + rng.range(600, 3 * 86_400);
        let processed_online = match (online, online_level) {
            (true, "full") => rng.chance(0.92),
            (true, _) => rng.chance(0.45),
            _ => rng.chance(0.05),
        };
        let digitized = rng.chance(if unit.pilot { 0.95 } else { 0.75 });
        let e_result = rng.chance(if online { 0.8 } else { 0.45 });
        let applicant_signed = online && rng.chance(0.5);
        let result_signed = rng.chance(if unit.pilot { 0.97 } else { 0.7 });
        // Hà Nội charges no fee online (SPEC §8).
        let fee = if online && unit.province == 0 {
            0
        } else {
            procedure.fee
        };
        let payment = if fee > 0 {
            Some(*rng.weighted(&[
                ("cash", if unit.pilot { 0.15 } else { 0.55 }),
                ("bank_transfer", 0.2),
                ("card", 0.05),
                ("e_wallet", 0.1),
                ("payment_platform", if online { 0.4 } else { 0.1 }),
            ]))
        } else {
            None
        };
        let paid_at_filing = rng.chance(0.7);
        let paid_online = matches!(payment, Some("payment_platform"))
            || (online && payment.is_some() && payment != Some("cash"));
        let satisfaction = rng.chance(0.5).then(|| {
            *rng.weighted(&[
                ("very_satisfied", 0.35),
                ("satisfied", 0.45),
                ("neutral", 0.13),
                ("dissatisfied", 0.07),
            ])
        });
        let citizen = rng.chance(0.85);
        let applicant_id = if citizen {
            format!(
                "{:03}{}{:02}{:06}",
                PROVINCES[unit.province].cccd,
                rng.below(4),
                rng.below(100),
                rng.below(1_000_000)
            )
        } else {
            String::new()
        };
        let vietnamese = rng.chance(0.3);
        let day_first = rng.chance(0.7);
        let fee_style = rng.below(10);
        let dossier_id = format!("{}-{:07}", unit.code, i);

        // Which snapshots the exports caught.
        let mut snapshots: Vec<(&str, i64)> = Vec::new();
        if final_status == "in_progress" || rng.chance(0.55) {
            snapshots.push(("received", received));
        }
        if final_status == "in_progress" || rng.chance(0.15) {
            snapshots.push(("in_progress", received + rng.range(600, 86_400)));
        }
        match final_status {
            "returned" => {
                if rng.chance(0.4) {
                    snapshots.push(("resolved", completed));
                }
                snapshots.push(("returned", returned));
            }
            "in_progress" => {}
            status => snapshots.push((status, completed)),
        }
        // A dossier filed before the export always shows up in it.
        if snapshots.iter().all(|(_, updated)| *updated >= self.end) {
            snapshots.insert(0, ("received", received));
        }
        let mut wrote_any = false;
        for (status, updated) in snapshots {
            if updated >= self.end {
                // Not yet happened when the export was taken.
                if wrote_any {
                    break;
                }
                continue;
            }
            wrote_any = true;
            let resolved = matches!(status, "resolved" | "returned");
            let closed = resolved || matches!(status, "withdrawn" | "rejected");
            let paid = payment.is_some() && (paid_at_filing || closed);
            let [b_received, b_due, b_completed, b_returned, b_updated] = &mut self.buf;
            format_local(received, day_first, b_received);
            match due {
                Some(d) if due_as_date => format_date(d, b_due),
                Some(d) => format_local(d, day_first, b_due),
                None => b_due.clear(),
            }
            if resolved {
                format_local(completed, day_first, b_completed);
            } else {
                b_completed.clear();
            }
            if status == "returned" {
                format_local(returned, day_first, b_returned);
            } else {
                b_returned.clear();
            }
            format_local(updated, day_first, b_updated);
            let yes_no = |v: bool| match (v, vietnamese) {
                (true, true) => "có",
                (false, true) => "không",
                (true, false) => "1",
                (false, false) => "0",
            };
            let channel_text = match (channel, vietnamese) {
                ("online", true) => "Trực tuyến",
                ("counter", true) => "Trực tiếp",
                ("postal", true) => "Bưu chính",
                (c, _) => c,
            };
            let level_text = match (online_level, vietnamese) {
                ("full", true) => "Toàn trình",
                ("partial", true) => "Một phần",
                (l, _) => l,
            };
            let fee_text = format_fee(fee, fee_style);
            let record: [&str; 22] = [
                &dossier_id,
                &procedure.code,
                &unit.code,
                channel_text,
                level_text,
                status,
                b_received,
                b_due,
                b_completed,
                b_returned,
                b_updated,
                yes_no(processed_online && resolved),
                yes_no(digitized),
                yes_no(e_result && resolved),
                yes_no(applicant_signed),
                yes_no(result_signed && resolved),
                &fee_text,
                if paid { payment.unwrap_or("") } else { "" },
                yes_no(paid && paid_online),
                if resolved {
                    satisfaction.unwrap_or("")
                } else {
                    ""
                },
                &applicant_id,
                if citizen { "citizen" } else { "business" },
            ];
            w.dossiers
                .write_record(record)
                .map_err(|e| csv_error(&w.paths[0], e))?;
            report.dossier_rows += 1;
            // Exports re-send some snapshots unchanged.
            if self.rng.chance(0.02) {
                w.dossiers
                    .write_record(record)
                    .map_err(|e| csv_error(&w.paths[0], e))?;
                report.dossier_rows += 1;
            }
        }
        if online {
            self.application(
                i,
                unit,
                procedure,
                received,
                Some(&dossier_id),
                fee,
                payment,
                w,
                report,
            )?;
        }
        if self.rng.chance(if online { 0.35 } else { 0.05 }) {
            let started = received - self.rng.range(86_400, 20 * 86_400);
            self.application(
                i + (1 << 40),
                unit,
                procedure,
                started,
                None,
                0,
                None,
                w,
                report,
            )?;
        }
        Ok(())
    }

    fn next_event_id(&mut self, prefix: &str) -> String {
        self.event_seq += 1;
        format!("{prefix}{:010}", self.event_seq)
    }

    #[allow(clippy::too_many_arguments)]
    fn application(
        &mut self,
        i: u64,
        unit: &Unit,
        procedure: &Procedure,
        submitted_at: i64,
        dossier_id: Option<&str>,
        fee: i64,
        payment: Option<&str>,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let application_id = format!("APP-{i:012}");
        // Sessions start minutes to hours before submission: some cross
        // midnight, and at a month's end, the month.
        let started = submitted_at - self.rng.range(120, 5 * 3600);
        let auth = *self
            .rng
            .weighted(&[("vneid", 0.6), ("portal_account", 0.35), ("other", 0.05)]);
        let mut events: Vec<PortalEvent> = vec![(started, "started", None)];
        match dossier_id {
            Some(_) => {
                if fee > 0 && payment.is_some_and(|p| p != "cash") {
                    let method = payment.unwrap_or("payment_platform");
                    if self.rng.chance(0.08) {
                        events.push((submitted_at - 90, "payment_failed", Some((method, fee))));
                    }
                    events.push((submitted_at - 30, "payment_succeeded", Some((method, fee))));
                }
                events.push((submitted_at, "submitted", None));
            }
            None => {
                if self.rng.chance(0.6) {
                    events.push((started + self.rng.range(60, 3600), "abandoned", None));
                }
            }
        }
        for (at, event_type, payment) in events {
            if at >= self.end {
                break;
            }
            let event_id = self.next_event_id("EV");
            let mut when = String::new();
            if self.rng.chance(0.5) {
                format_utc_z(at, &mut when);
            } else {
                format_local(at, false, &mut when);
            }
            let mut object = serde_json::Map::new();
            object.insert("event_id".into(), event_id.into());
            object.insert("occurred_at".into(), when.into());
            object.insert("application_id".into(), application_id.clone().into());
            object.insert("procedure_code".into(), procedure.code.clone().into());
            object.insert("unit_code".into(), unit.code.clone().into());
            object.insert("event_type".into(), event_type.into());
            if event_type == "started" {
                object.insert("auth_method".into(), auth.into());
            }
            if let Some((method, amount)) = payment {
                object.insert("payment_method".into(), method.into());
                object.insert("amount_vnd".into(), amount.into());
            }
            if event_type == "submitted" {
                object.insert("dossier_id".into(), dossier_id.unwrap_or_default().into());
            }
            let line = serde_json::Value::Object(object).to_string();
            let repeat = if self.rng.chance(0.01) { 2 } else { 1 };
            for _ in 0..repeat {
                w.portal
                    .write_all(line.as_bytes())
                    .and_then(|_| w.portal.write_all(b"\n"))
                    .map_err(|e| Error::io(&w.paths[1], e))?;
                report.portal_events += 1;
            }
        }
        Ok(())
    }

    fn document(
        &mut self,
        units: &[Unit],
        start: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let unit = &units[self.rng.below(units.len() as u64) as usize];
        let days = (self.end - start) / 86_400;
        let at = start + self.rng.range(0, days) * 86_400 + time_of_day(&mut self.rng, false);
        let signed = self.rng.chance(if unit.pilot { 0.99 } else { 0.8 });
        let event_id = self.next_event_id("SG");
        let [b, ..] = &mut self.buf;
        format_local(at, true, b);
        let record = [
            event_id.as_str(),
            b.as_str(),
            unit.code.as_str(),
            "document_issued",
            if signed { "true" } else { "false" },
            "official",
            "",
            "",
        ];
        w.signatures
            .write_record(record)
            .map_err(|e| csv_error(&w.paths[2], e))?;
        report.signatures += 1;
        Ok(())
    }

    fn certificate(
        &mut self,
        units: &[Unit],
        communes: &[usize],
        start: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let unit = &units[*self.rng.pick(communes)];
        let days = (self.end - start) / 86_400;
        let at = start + self.rng.range(0, days) * 86_400 + time_of_day(&mut self.rng, false);
        let free = self.rng.chance(if unit.province == 0 { 0.85 } else { 0.4 });
        let signer = *self.rng.weighted(&[("citizen", 0.85), ("business", 0.15)]);
        let provider = *self
            .rng
            .pick(&["VNPT-CA", "Viettel-CA", "FPT-CA", "BKAV-CA", "MISA-CA"]);
        let event_id = self.next_event_id("SG");
        let [b, ..] = &mut self.buf;
        format_local(at, false, b);
        let record = [
            event_id.as_str(),
            b.as_str(),
            unit.code.as_str(),
            "certificate_issued",
            "",
            signer,
            provider,
            if free { "yes" } else { "no" },
        ];
        w.signatures
            .write_record(record)
            .map_err(|e| csv_error(&w.paths[2], e))?;
        report.signatures += 1;
        Ok(())
    }
}
