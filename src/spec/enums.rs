//! The enum columns' accepted values, declared once.

/// An enum column's accepted values: the canonical name first, then its
/// aliases. Matching normalizes both sides (see `validate::values::normalize_token`), so
/// `Trực tuyến`, `truc tuyen` and `TRUC_TUYEN` all match `truc_tuyen`.
#[derive(Debug)]
pub(crate) struct EnumDef {
    pub name: &'static str,
    pub values: &'static [(&'static str, &'static [&'static str])],
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
    values: &[
        ("counter", &["truc_tiep", "trực tiếp"]),
        ("online", &["truc_tuyen", "trực tuyến"]),
        ("postal", &["buu_chinh", "bưu chính"]),
    ],
};

pub(crate) static ONLINE_LEVEL: EnumDef = EnumDef {
    name: "online_level",
    values: &[
        ("none", &[]),
        ("partial", &["mot_phan", "một phần"]),
        ("full", &["toan_trinh", "toàn trình"]),
    ],
};

pub(crate) static STATUS: EnumDef = EnumDef {
    name: "status",
    values: &[
        ("received", &[]),
        ("in_progress", &[]),
        ("resolved", &[]),
        ("returned", &[]),
        ("withdrawn", &[]),
        ("rejected", &[]),
    ],
};

pub(crate) static PAYMENT_METHOD: EnumDef = EnumDef {
    name: "payment_method",
    values: &[
        ("cash", &["tien_mat", "tiền mặt"]),
        ("bank_transfer", &["chuyen_khoan", "chuyển khoản"]),
        ("card", &["the", "thẻ"]),
        ("e_wallet", &["vi_dien_tu", "ví điện tử"]),
        ("payment_platform", &[]),
    ],
};

pub(crate) static SATISFACTION: EnumDef = EnumDef {
    name: "satisfaction",
    values: &[
        ("very_satisfied", &[]),
        ("satisfied", &[]),
        ("neutral", &[]),
        ("dissatisfied", &[]),
    ],
};

pub(crate) static APPLICANT_TYPE: EnumDef = EnumDef {
    name: "applicant_type",
    values: &[("citizen", &[]), ("business", &[])],
};

pub(crate) static PORTAL_EVENT_TYPE: EnumDef = EnumDef {
    name: "event_type",
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
    values: &[("vneid", &[]), ("portal_account", &[]), ("other", &[])],
};

pub(crate) static SIGNATURE_EVENT_TYPE: EnumDef = EnumDef {
    name: "event_type",
    values: &[("document_issued", &[]), ("certificate_issued", &[])],
};

pub(crate) static SIGNER_TYPE: EnumDef = EnumDef {
    name: "signer_type",
    values: &[("official", &[]), ("citizen", &[]), ("business", &[])],
};

pub(crate) static UNIT_LEVEL: EnumDef = EnumDef {
    name: "level",
    values: &[
        ("province", &[]),
        ("district", &[]),
        ("commune", &[]),
        ("department", &[]),
    ],
};

pub(crate) static GRAIN: EnumDef = EnumDef {
    name: "grain",
    values: &[
        ("day", &[]),
        ("week", &[]),
        ("month", &[]),
        ("quarter", &[]),
        ("year", &[]),
    ],
};
