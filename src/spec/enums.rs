//! The enum columns' accepted values, declared once.

/// An enum column's accepted values: the canonical name first, then its
/// aliases. Matching normalizes both sides (see `spec::token::normalize_token`), so
/// `Trực tuyến`, `truc tuyen` and `TRUC_TUYEN` all match `truc_tuyen`.
#[derive(Debug)]
pub(crate) struct EnumDef {
    pub name: &'static str,
    pub values: &'static [(&'static str, &'static [&'static str])],
    /// Spellings that match no value because they could mean several, with
    /// what to write instead.
    pub ambiguous: &'static [(&'static str, &'static str)],
}

impl EnumDef {
    pub fn canonical(&self, index: u8) -> &'static str {
        self.values[index as usize].0
    }

    pub(crate) fn index_of(&self, canonical: &str) -> Option<u8> {
        self.values
            .iter()
            .position(|(name, _)| *name == canonical)
            .map(|i| i as u8)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.values.iter().map(|(name, _)| *name).collect()
    }
}

pub(crate) static CHANNEL: EnumDef = EnumDef {
    name: "channel",
    ambiguous: &[],
    values: &[
        ("counter", &["truc_tiep", "trực tiếp"]),
        ("online", &["truc_tuyen", "trực tuyến"]),
        ("postal", &["buu_chinh", "bưu chính", "bưu chính công ích"]),
    ],
};

pub(crate) static ONLINE_LEVEL: EnumDef = EnumDef {
    name: "online_level",
    ambiguous: &[],
    values: &[
        // "Mức độ" 1–4: the levels before Decree 42/2022.
        ("none", &["mức độ 2", "mức độ 1"]),
        ("partial", &["mot_phan", "một phần", "mức độ 3"]),
        ("full", &["toan_trinh", "toàn trình", "mức độ 4"]),
    ],
};

pub(crate) static STATUS: EnumDef = EnumDef {
    name: "status",
    ambiguous: &[],
    values: &[
        ("received", &["mới tiếp nhận", "đã tiếp nhận"]),
        (
            "in_progress",
            &["đang xử lý", "đang giải quyết", "chờ bổ sung"],
        ),
        (
            "resolved",
            &["đã giải quyết", "đã có kết quả", "hoàn thành"],
        ),
        ("returned", &["đã trả kết quả"]),
        ("withdrawn", &["đã rút", "rút hồ sơ"]),
        ("rejected", &["từ chối", "không giải quyết"]),
    ],
};

pub(crate) static PAYMENT_METHOD: EnumDef = EnumDef {
    name: "payment_method",
    ambiguous: &[],
    values: &[
        ("cash", &["tien_mat", "tiền mặt"]),
        ("bank_transfer", &["chuyen_khoan", "chuyển khoản"]),
        ("card", &["the", "thẻ"]),
        ("e_wallet", &["vi_dien_tu", "ví điện tử"]),
        // The national public-service portal's payment platform.
        ("payment_platform", &["nền tảng thanh toán"]),
    ],
};

pub(crate) static SATISFACTION: EnumDef = EnumDef {
    name: "satisfaction",
    ambiguous: &[],
    values: &[
        ("very_satisfied", &["rất hài lòng"]),
        ("satisfied", &["hài lòng"]),
        ("neutral", &["bình thường"]),
        ("dissatisfied", &["không hài lòng"]),
    ],
};

pub(crate) static APPLICANT_TYPE: EnumDef = EnumDef {
    name: "applicant_type",
    ambiguous: &[],
    values: &[
        ("citizen", &["công dân", "cá nhân"]),
        ("business", &["doanh nghiệp", "tổ chức"]),
    ],
};

pub(crate) static PORTAL_EVENT_TYPE: EnumDef = EnumDef {
    name: "event_type",
    ambiguous: &[],
    values: &[
        ("started", &[]),
        ("submitted", &[]),
        ("abandoned", &[]),
        ("payment_succeeded", &[]),
        ("payment_failed", &[]),
    ],
};

pub(crate) static AUTH_METHOD: EnumDef = EnumDef {
    name: "auth_method",
    ambiguous: &[],
    values: &[("vneid", &[]), ("portal_account", &[]), ("other", &[])],
};

pub(crate) static SIGNATURE_EVENT_TYPE: EnumDef = EnumDef {
    name: "event_type",
    ambiguous: &[],
    values: &[("document_issued", &[]), ("certificate_issued", &[])],
};

pub(crate) static SIGNER_TYPE: EnumDef = EnumDef {
    name: "signer_type",
    ambiguous: &[],
    values: &[("official", &[]), ("citizen", &[]), ("business", &[])],
};

pub(crate) static UNIT_LEVEL: EnumDef = EnumDef {
    name: "level",
    ambiguous: &[(
        "thành phố",
        "a city is a province (Thành phố trực thuộc trung ương) or a district (Thành phố thuộc tỉnh); write which",
    )],
    values: &[
        ("province", &["tỉnh", "thành phố trực thuộc trung ương"]),
        (
            "district",
            &["huyện", "quận", "thị xã", "thành phố thuộc tỉnh"],
        ),
        ("commune", &["xã", "phường", "thị trấn", "đặc khu"]),
        ("department", &["sở", "ban", "ngành"]),
    ],
};

pub(crate) static GRAIN: EnumDef = EnumDef {
    name: "grain",
    ambiguous: &[],
    values: &[
        ("day", &[]),
        ("week", &[]),
        ("month", &[]),
        ("quarter", &[]),
        ("year", &[]),
    ],
};
