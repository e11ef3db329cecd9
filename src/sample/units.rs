//! The unit tree: provinces, districts and communes with real names.

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
    /// Index of the province this unit belongs to.
    pub province: usize,
    /// Pilot units sign and pay digitally more (SPEC §8).
    pub(crate) pilot: bool,
}

pub(crate) struct ProvinceSeed {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) cccd: u32,
    pub(crate) districts: &'static [&'static str],
    departments: &'static [&'static str],
}

pub(crate) const PROVINCES: &[ProvinceSeed] = &[
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
pub(crate) fn unit_tree(seed: u64) -> Vec<Unit> {
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
            units.push(department(province, p, province_index, name));
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
            for name in commune_names(&mut rng, district) {
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
    count_adults(&mut units);
    units
}

/// A provincial department, coded after its initials.
fn department(province: &ProvinceSeed, p: usize, parent: usize, name: &str) -> Unit {
    let abbreviation: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_uppercase())
        .collect();
    Unit {
        code: format!(
            "{}-{}",
            province.code,
            crate::validate::values::normalize_token(&abbreviation).to_uppercase()
        ),
        name: name.to_string(),
        level: "department",
        parent: Some(parent),
        adults: None,
        province: p,
        pilot: PILOTS.contains(&name),
    }
}

/// The communes or wards of a district: Long Biên's real wards, else 5–10
/// names drawn from the list.
fn commune_names(rng: &mut Rng, district: &str) -> Vec<String> {
    if district == "Quận Long Biên" {
        return LONG_BIEN_WARDS.iter().map(|s| s.to_string()).collect();
    }
    let urban = district.starts_with("Quận") || district.starts_with("Thành phố");
    let count = rng.range(5, 11) as usize;
    let start = rng.below(COMMUNE_NAMES.len() as u64) as usize;
    (0..count)
        .map(|k| {
            let base = COMMUNE_NAMES[(start + k * 7) % COMMUNE_NAMES.len()];
            format!("{} {base}", if urban { "Phường" } else { "Xã" })
        })
        .collect()
}

/// Districts and provinces count the adults of their communes.
fn count_adults(units: &mut [Unit]) {
    for i in (0..units.len()).rev() {
        if let (Some(adults), Some(parent)) = (units[i].adults, units[i].parent)
            && units[parent].level != "department"
        {
            let sum = units[parent].adults.unwrap_or(0) + adults;
            units[parent].adults = Some(sum);
        }
    }
}
