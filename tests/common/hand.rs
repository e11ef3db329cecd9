//! The hand-built fixture of `tests/kpi.rs`: a province P with districts D1
//! and D2, communes C1 and C2 under D1. `tests/kpi.rs` works out every KPI
//! of it by hand; `tests/report.rs` reads those figures in a report.

use super::{DOSSIER_HEADER, Fixture, report_counts};
use motcua::spec::feeds::Feed;

pub const UNITS: &str = "unit_code,name,level,parent_code,adult_population
P,Tỉnh Thử Nghiệm,province,,10000
D1,Huyện Một,district,P,4000
D2,Huyện Hai,district,P,
C1,Xã Một,commune,D1,2000
C2,Xã Hai,commune,D1,0
";

pub const TARGETS: &str = "kpi,unit_code,year,target,grain
on_time_rate,*,2024,90%,
on_time_rate,*,2024,0.5,month
on_time_rate,D1,2024,0.8,
on_time_rate,D1,2024,0.85,
median_processing_days,*,2024,10,
overdue_open,*,2024,1,month
document_signing_rate,P,2024,100%,
certificates_issued,D1,2024,3,month
received,*,2023,5,
";

// Local times are Asia/Ho_Chi_Minh (+07:00).
pub const DOSSIERS_1: &str = "A1,PR,C1,counter,none,received,2024-02-20 09:00,2024-03-05,,,2024-02-20 09:00,0,1,0,0,0,50000,,0,,,citizen
A1,PR,C1,counter,none,resolved,2024-02-20 09:00,2024-03-05,2024-03-04 10:00,,2024-03-04 10:00,0,1,1,0,1,50000,cash,0,satisfied,,citizen
A2,PR,C1,online,full,resolved,2024-03-10 08:00,2024-03-15 08:00,2024-03-31T23:30:00+07:00,,2024-03-31T23:30:00+07:00,1,1,1,1,0,20000,e_wallet,1,very_satisfied,,citizen
A2,PR,C1,online,full,in_progress,2024-03-10 08:00,2024-03-15 08:00,,,2024-03-11 08:00,0,1,0,1,0,20000,e_wallet,1,,,citizen
A2,PR,C1,online,full,resolved,2024-03-10 08:00,2024-03-15 08:00,2024-03-31T23:30:00+07:00,,2024-03-31T23:30:00+07:00,1,1,1,1,0,20000,e_wallet,1,very_satisfied,,citizen
A3,PR,C1,online,partial,in_progress,2024-03-20 14:00,2024-03-25,,,2024-03-21 09:00,0,1,0,0,0,0,,0,,,citizen
B1,PR,D1,counter,full,withdrawn,2024-03-05 09:00,2024-03-08 17:00,,,2024-03-06 09:00,0,0,0,0,0,30000,,0,,,citizen
B2,PR,D1,postal,partial,returned,2024-03-07 10:00,,2024-03-09 10:00,2024-03-10 10:00,2024-03-10 10:00,0,0,0,0,1,100000,bank_transfer,0,neutral,,business
X1,PR,ZZ,counter,none,received,2024-03-03 10:00,,,,2024-03-03 10:00,0,1,0,0,0,0,,0,,,citizen
";

// A later export: A3 again with the same updated_at (the later ingest wins:
// not digitized), D2's dossiers, and F1 at the province, the newest snapshot.
pub const DOSSIERS_2: &str = "A3,PR,C1,online,partial,in_progress,2024-03-20 14:00,2024-03-25,,,2024-03-21 09:00,0,0,0,0,0,0,,0,,,citizen
E1,PR,D2,online,full,resolved,2024-03-15 10:00,2024-03-20,2024-03-18 10:00,,2024-03-18 10:00,1,1,1,0,1,0,,0,dissatisfied,,citizen
E2,PR,D2,counter,none,rejected,2024-03-28 09:00,2024-03-29 17:00,,,2024-04-02 09:00,0,1,0,0,0,15000,cash,0,,,citizen
F1,PR,P,counter,none,received,2024-04-02 10:00,,,,2024-04-02 10:00,0,0,0,0,0,0,,0,,,citizen
";

pub const PORTAL: &str = r#"{"event_id":"P1a","occurred_at":"2024-02-29T23:50:00+07:00","application_id":"app1","procedure_code":"PR","unit_code":"C1","event_type":"started","auth_method":"vneid"}
{"event_id":"P1b","occurred_at":"2024-03-01T00:05:00+07:00","application_id":"app1","procedure_code":"PR","unit_code":"C1","event_type":"started","auth_method":"portal_account"}
{"event_id":"P1c","occurred_at":"2024-03-01T00:10:00+07:00","application_id":"app1","procedure_code":"PR","unit_code":"C1","event_type":"submitted","dossier_id":"A2"}
{"event_id":"P2a","occurred_at":"2024-03-10T07:50:00+07:00","application_id":"app2","procedure_code":"PR","unit_code":"C1","event_type":"started","auth_method":"portal_account"}
{"event_id":"P2b","occurred_at":"2024-03-10T07:55:00+07:00","application_id":"app2","procedure_code":"PR","unit_code":"C1","event_type":"payment_failed","payment_method":"e_wallet","amount_vnd":20000}
{"event_id":"P2c","occurred_at":"2024-03-10T07:58:00+07:00","application_id":"app2","procedure_code":"PR","unit_code":"C1","event_type":"payment_succeeded","payment_method":"e_wallet","amount_vnd":20000}
{"event_id":"P2c","occurred_at":"2024-03-10T07:58:00+07:00","application_id":"app2","procedure_code":"PR","unit_code":"C1","event_type":"payment_succeeded","payment_method":"e_wallet","amount_vnd":20000}
{"event_id":"P2d","occurred_at":"2024-03-10T08:00:00+07:00","application_id":"app2","procedure_code":"PR","unit_code":"C1","event_type":"submitted","dossier_id":"A2"}
{"event_id":"P3a","occurred_at":"2024-03-31T23:55:00+07:00","application_id":"app3","procedure_code":"PR","unit_code":"D2","event_type":"started","auth_method":"vneid"}
{"event_id":"P3b","occurred_at":"2024-04-01T00:10:00+07:00","application_id":"app3","procedure_code":"PR","unit_code":"D2","event_type":"abandoned"}
{"event_id":"P4a","occurred_at":"2024-03-31T17:30:00Z","application_id":"app4","procedure_code":"PR","unit_code":"D2","event_type":"started","auth_method":"vneid"}
{"event_id":"P5b","occurred_at":"2024-03-15T09:00:00+07:00","application_id":"app5","procedure_code":"PR","unit_code":"C1","event_type":"started","auth_method":"vneid"}
{"event_id":"P5a","occurred_at":"2024-03-15T02:00:00Z","application_id":"app5","procedure_code":"PR","unit_code":"D2","event_type":"started","auth_method":"other"}
{"event_id":"P5c","occurred_at":"2024-03-15T09:10:00+07:00","application_id":"app5","procedure_code":"PR","unit_code":"D2","event_type":"payment_failed","payment_method":"card","amount_vnd":5000}
{"event_id":"P5d","occurred_at":"2024-03-15T09:30:00+07:00","application_id":"app5","procedure_code":"PR","unit_code":"C1","event_type":"submitted","dossier_id":"E1"}
"#;

pub const SIGNATURES: &str =
    "event_id,occurred_at,unit_code,event_type,signed,signer_type,provider,free_of_charge
S1,2024-03-05 10:00,C1,document_issued,true,official,,
S2,2024-03-06 10:00,C1,document_issued,false,official,,
S3,2024-03-31T23:30:00+07:00,D1,document_issued,true,official,,
S4,2024-03-31T17:00:00Z,D2,document_issued,true,official,,
S5,2024-03-12 10:00,C1,certificate_issued,,citizen,VNPT-CA,yes
S6,2024-03-13 10:00,C1,certificate_issued,,citizen,VNPT-CA,no
S7,2024-03-14 10:00,D1,certificate_issued,,business,FPT-CA,yes
S8,2024-03-15 10:00,C2,certificate_issued,,citizen,FPT-CA,yes
S9,2024-02-10 10:00,D2,certificate_issued,,citizen,FPT-CA,no
";

/// The fixture, ingested: every feed, two dossier exports.
pub fn fixture() -> Fixture {
    let f = Fixture::new();
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    f.ingest_text(Feed::Targets, "targets.csv", TARGETS);
    let first = f.ingest_text(
        Feed::Dossiers,
        "d1.csv",
        &format!("{DOSSIER_HEADER}\n{DOSSIERS_1}"),
    );
    assert_eq!(report_counts(&first), (9, 8, 0, 1));
    f.ingest_text(
        Feed::Dossiers,
        "d2.csv",
        &format!("{DOSSIER_HEADER}\n{DOSSIERS_2}"),
    );
    let portal = f.ingest_text(Feed::PortalEvents, "portal.ndjson", PORTAL);
    assert_eq!(report_counts(&portal), (15, 14, 0, 1));
    f.ingest_text(Feed::Signatures, "signatures.csv", SIGNATURES);
    f
}
