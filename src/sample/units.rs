//! The sample's registry: real provinces, districts and communes of Hà Nội
//! and Lào Cai – Yên Bái, before and after 1 July 2025.

/// SplitMix64: tiny, fast, and fixed forever, so samples never change under a
/// dependency upgrade.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
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

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks by weight from `(item, weight)` pairs.
    pub(crate) fn weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
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
    /// The first digits of its citizens' ID numbers: its province's code.
    pub(crate) cccd: u32,
    /// Pilot units sign and pay digitally more (SPEC §8).
    pub(crate) pilot: bool,
    /// Its first day and the day after its last, as local seconds at
    /// midnight; None: unbounded.
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
}

impl Unit {
    pub(crate) fn valid_at(&self, at: i64) -> bool {
        self.from.is_none_or(|from| from <= at) && self.to.is_none_or(|to| at < to)
    }
}

/// The sample's registry: its units (every version) and which old unit
/// became which new one, with the share.
pub(crate) struct Registry {
    pub(crate) units: Vec<Unit>,
    /// (old unit, new unit, share)
    pub(crate) changes: Vec<(usize, usize, f64)>,
}

/// Hà Nội, and Lào Cai and Yên Bái, before and after the reorganization of
/// 1 July 2025, as `sample_data/reference` holds them (built from the
/// resolutions; see its README).
const REFERENCE_UNITS: &str = include_str!("../../sample_data/reference/units.csv");
/// How the old units became the new ones: the sample's `unit_changes.csv`.
pub(crate) const REFERENCE_CHANGES: &str =
    include_str!("../../sample_data/reference/unit_changes.csv");

/// Hà Nội's departments, which keep their codes through the change.
const DEPARTMENTS: &[(&str, &str)] = &[
    ("01-SGTVT", "Sở Giao thông Vận tải Hà Nội"),
    ("01-CT", "Cục Thuế thành phố Hà Nội"),
    ("01-STP", "Sở Tư pháp Hà Nội"),
    ("01-SKHĐT", "Sở Kế hoạch và Đầu tư Hà Nội"),
    ("01-STNMT", "Sở Tài nguyên và Môi trường Hà Nội"),
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

/// A date of the reference files as local seconds; empty is None.
fn day(text: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(crate::sample::local_seconds(
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        chrono::Datelike::day(&date),
    ))
}

fn level_of(text: &str) -> &'static str {
    match text {
        "province" => "province",
        "district" => "district",
        "department" => "department",
        _ => "commune",
    }
}

/// Builds the registry from the reference files, with Hà Nội's departments,
/// pilot units (SPEC §8, and every unit that took over part of one) and
/// adult populations drawn for the communes and summed up the tree.
pub(crate) fn unit_tree(seed: u64) -> Registry {
    let mut rng = Rng::new(seed ^ 0x0051_7E55);
    let mut units: Vec<Unit> = Vec::new();
    let mut parents: Vec<String> = Vec::new();
    let mut rows = csv::Reader::from_reader(REFERENCE_UNITS.as_bytes());
    for row in rows.records().flatten() {
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        units.push(Unit {
            code: field(0).to_string(),
            name: field(1).to_string(),
            level: level_of(field(2)),
            parent: None,
            adults: None,
            cccd: 0,
            pilot: false,
            from: day(field(5)),
            to: day(field(6)),
        });
        parents.push(field(3).to_string());
    }
    for (code, name) in DEPARTMENTS {
        units.push(Unit {
            code: code.to_string(),
            name: name.to_string(),
            level: "department",
            parent: None,
            adults: None,
            cccd: 0,
            pilot: PILOTS.contains(name),
            from: None,
            to: None,
        });
        parents.push("01".to_string());
    }
    // A parent is the unit its code names on the child's first day.
    let first_day = |u: &Unit| u.from.unwrap_or(i64::MIN);
    for i in 0..units.len() {
        let on = first_day(&units[i]);
        units[i].parent = units.iter().position(|p| {
            p.code == parents[i] && p.from.is_none_or(|f| f <= on) && p.to.is_none_or(|t| on < t)
        });
    }
    for i in 0..units.len() {
        let mut root = i;
        while let Some(up) = units[root].parent {
            root = up;
        }
        units[i].cccd = units[root].code.parse().unwrap_or(0);
        let parent_pilot = units[i]
            .parent
            .is_some_and(|p| PILOTS.contains(&units[p].name.as_str()));
        units[i].pilot |= PILOTS.contains(&units[i].name.as_str()) || parent_pilot;
    }
    let changes = changes(&units);
    // A new unit that took over part of a pilot one is a pilot too.
    for &(old, new, _) in &changes {
        if units[old].pilot && units[new].level == "commune" {
            units[new].pilot = true;
        }
    }
    for unit in units.iter_mut().filter(|u| u.level == "commune") {
        unit.adults = Some(rng.range(4_000, 30_000) as u64);
    }
    count_adults(&mut units);
    Registry { units, changes }
}

/// The reference changes as (old unit, new unit, share).
fn changes(units: &[Unit]) -> Vec<(usize, usize, f64)> {
    let find = |code: &str, at: i64| units.iter().position(|u| u.code == code && u.valid_at(at));
    let mut rows = csv::Reader::from_reader(REFERENCE_CHANGES.as_bytes());
    rows.records()
        .flatten()
        .filter_map(|row| {
            let on = day(row.get(2)?)?;
            let old = find(row.get(0)?.trim(), on - 86_400)?;
            let new = find(row.get(1)?.trim(), on)?;
            let share = row
                .get(3)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1.0);
            Some((old, new, share))
        })
        .collect()
}

/// Districts and provinces count the adults of the communes below them on
/// their last day in the sample (a unit that continues: its first day
/// after the sample).
fn count_adults(units: &mut [Unit]) {
    let end = crate::sample::local_seconds(
        crate::sample::END.0,
        crate::sample::END.1,
        crate::sample::END.2,
    );
    for level in ["district", "province"] {
        for i in 0..units.len() {
            if units[i].level != level {
                continue;
            }
            let on = units[i].to.unwrap_or(end) - 86_400;
            let sum: u64 = (0..units.len())
                .filter(|&c| {
                    units[c].parent == Some(i)
                        && units[c].valid_at(on)
                        && units[c].level != "department"
                })
                .filter_map(|c| units[c].adults)
                .sum();
            units[i].adults = (sum > 0).then_some(sum);
        }
    }
}
