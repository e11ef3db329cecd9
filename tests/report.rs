//! `motcua report`, the Excel and table outputs and the published
//! `kpi_catalog`, on the hand-built fixture of `tests/kpi.rs` (whose every
//! figure is worked out there): the page as a real browser renders it
//! (headless Chromium, network off), the workbooks as an independent reader
//! (Python's openpyxl) reads them.
//!
//! Chromium and openpyxl are installed by `.ci/run` (Debian's `chromium`;
//! openpyxl in a venv it names in `MOTCUA_PYTHON`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::hand::fixture;
use common::*;

/// The hand fixture with its months March 2023 to May 2024 published as
/// reported (a year before the report's March 2024: nothing happened
/// then), and February to March 2024 restated on 2024-03-31's units.
fn published() -> Fixture {
    let f = fixture();
    let day = |text: &str| text.parse().unwrap();
    let out = f.dir.path().join("out");
    publish_months(&f, &out, day("2023-03-01"), day("2024-05-01"), None);
    publish_months(
        &f,
        &out,
        day("2024-02-01"),
        day("2024-03-01"),
        Some(day("2024-03-31")),
    );
    f
}

fn motcua(f: &Fixture, args: &[&str]) -> Output {
    let out = f.dir.path().join("out");
    motcua_command(&f.lake)
        .args(args)
        .arg("--published")
        .arg(&out)
        .output()
        .expect("run motcua")
}

/// What `motcua query --sql SQL` prints as a table.
fn table(f: &Fixture, sql: &str) -> String {
    String::from_utf8(motcua(f, &["query", "--sql", sql]).stdout).unwrap()
}

/// Writes the report of P in March 2024 with `extra` flags; its path.
fn report(f: &Fixture, name: &str, extra: &[&str]) -> PathBuf {
    let path = f.dir.path().join(name);
    let mut args = vec!["report", "--unit", "P", "--period", "2024-03"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--output", path.to_str().unwrap()]);
    stdout_of(motcua(f, &args));
    path
}

// ---- the browser --------------------------------------------------------

fn chromium() -> String {
    let binary = std::env::var("MOTCUA_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&binary).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "these tests render the report in Chromium: install Debian's chromium (`apt-get install chromium`), set MOTCUA_CHROMIUM to its binary, or run `bash .ci/run`, which does"
    );
    binary
}

/// Runs headless Chromium on `page` with every network request sent to a
/// closed proxy; what it logged (console messages, requests).
fn browse(page: &Path, what: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",
            "--enable-logging=stderr",
            "--v=1",
            "--window-size=1100,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(what)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

/// What the page asked of the console and the network, from Chromium's
/// log: console messages, and requests for anything but the page itself —
/// Chromium's own calls home aside (its update, account and time services
/// on google.com and googleapis.com; never a font or a CDN).
fn complaints(log: &str, page: &Path) -> Vec<String> {
    let own = format!("file://{}", page.display());
    let chromium_home = |url: &str| {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':', '?']).next())
            .unwrap_or_default();
        (host.ends_with(".google.com") || host.ends_with(".googleapis.com"))
            && host != "fonts.googleapis.com"
    };
    log.lines()
        .filter(|line| {
            line.contains(":CONSOLE")
                || line
                    .split("NotifyBeforeURLRequest: ")
                    .nth(1)
                    .is_some_and(|url| !url.starts_with(&own) && !chromium_home(url))
        })
        .map(str::to_string)
        .collect()
}

/// The text of every cell of the row `<tr data-…="key">`.
fn row_cells(dom: &str, attribute: &str, key: &str) -> Vec<String> {
    let start = dom
        .find(&format!("{attribute}=\"{key}\""))
        .unwrap_or_else(|| panic!("no row {attribute}={key} in the page"));
    let end = start + dom[start..].find("</tr>").expect("the row's end");
    dom[start..end]
        .split("<td")
        .skip(1)
        .map(|cell| text(&cell[cell.find('>').map_or(0, |i| i + 1)..]))
        .collect()
}

/// Markup with its tags taken out (each a space), entities read, spaces
/// folded.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_report_renders_in_a_browser_with_the_hand_worked_figures_and_no_request() {
    let f = published();
    let page = report(&f, "p-2024-03.html", &["--min-dossiers", "2"]);
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: nothing points outside the file.
    for attribute in ["src=", "href=", "url(", "@import", "<link", "<script"] {
        assert!(!html.contains(attribute), "the page holds {attribute}");
    }

    let run = browse(&page, &["--dump-dom"]);
    assert!(run.status.success(), "chromium failed");
    let dom = String::from_utf8(run.stdout).unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert_eq!(complaints(&log, &page), Vec::<String>::new());
    // The check sees what a page that fetches and logs does.
    let probe = f.dir.path().join("probe.html");
    std::fs::write(
        &probe,
        "<p>x</p><img src=\"http://192.0.2.1/x.png\"><script>console.error('boom')</script>",
    )
    .unwrap();
    let run = browse(&probe, &["--dump-dom"]);
    let seen = complaints(&String::from_utf8_lossy(&run.stderr), &probe);
    assert!(seen.iter().any(|l| l.contains("192.0.2.1")), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("boom")), "{seen:?}");

    // The goal summary: on time and the median met; overdue and signing behind.
    assert!(
        dom.contains("Trong 4 chỉ tiêu có mục tiêu: 2 đạt, 0 trên 70%, 2 từ 50–70%, 0 dưới 50%."),
        "{dom}"
    );
    // The scorecard, cell by cell: value, numerator / denominator, target,
    // attainment, status, change since February and since March 2023 (no
    // activity then: counts 0, rates none), rank among the provinces.
    let expected: &[(&str, [&str; 9])] = &[
        (
            "received",
            ["Hồ sơ tiếp nhận", "6", "", "", "", "", "+5", "+6", "1/1 ="],
        ),
        (
            "on_time_rate",
            [
                "Giải quyết đúng hạn",
                "75,0 %",
                "3 / 4",
                "50,0 %",
                "150,0 %",
                "Đạt",
                "–",
                "–",
                "1/1",
            ],
        ),
        (
            "median_processing_days",
            [
                "Thời gian giải quyết (trung vị)",
                "8,0 ngày",
                "",
                "10,0 ngày",
                "124,7 %",
                "Đạt",
                "–",
                "–",
                "1/1",
            ],
        ),
        (
            "overdue_open",
            [
                "Hồ sơ quá hạn chưa giải quyết",
                "2",
                "",
                "1",
                "50,0 %",
                "Từ 50–70%",
                "+2",
                "+2",
                "1/1 =",
            ],
        ),
        (
            "document_signing_rate",
            [
                "Văn bản được ký số",
                "66,7 %",
                "2 / 3",
                "100,0 %",
                "66,7 %",
                "Từ 50–70%",
                "–",
                "–",
                "1/1",
            ],
        ),
        (
            "cashless_value_rate",
            [
                "Giá trị thanh toán không dùng tiền mặt",
                "88,9 %",
                "120.000 đ / 135.000 đ",
                "",
                "",
                "",
                "+88,9 điểm %",
                "–",
                "1/1 =",
            ],
        ),
        (
            "certificates_per_1000_adults",
            [
                "Chứng thư số trên 1.000 người trưởng thành",
                "0,40",
                "4 / 10.000",
                "",
                "",
                "",
                "+0,30",
                "+0,40",
                "1/1 =",
            ],
        ),
    ];
    for (kpi, cells) in expected {
        assert_eq!(row_cells(&dom, "data-kpi", kpi), cells.to_vec(), "{kpi}");
    }
    // A trend chart per headline KPI, each an SVG drawn in the page.
    assert_eq!(dom.matches("<figure class=\"trend\"").count(), 4);
    assert_eq!(dom.matches("<svg").count(), 4);
    // The districts (headline KPIs in catalog order: on time, fully online,
    // cashless, signing), ranked on on-time: D2 (1 of 1 resolved, too few with
    // --min-dossiers 2) above D1 (2 of 3).
    let d2 = row_cells(&dom, "data-unit", "D2");
    let d1 = row_cells(&dom, "data-unit", "D1");
    assert!(dom.find("data-unit=\"D2\"") < dom.find("data-unit=\"D1\""));
    assert_eq!(
        d2,
        [
            "Huyện Hai (D2)",
            "100,0 % † 1/2",
            "100,0 % † 1/2",
            "0,0 % † 2/2",
            "– †"
        ]
    );
    assert_eq!(
        d1,
        [
            "Huyện Một (D1)",
            "66,7 % 2/2",
            "50,0 % 2/2",
            // First in February too (A1, cash: 0 %; D2 had no fee).
            "100,0 % 1/2 =",
            "66,7 % 1/1"
        ]
    );
    assert!(!dom.contains("id=\"restated\""));

    // A screenshot, and the page printed on A4.
    let shot = f.dir.path().join("report.png");
    let pdf = f.dir.path().join("report.pdf");
    browse(&page, &[&format!("--screenshot={}", shot.display())]);
    browse(
        &page,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{}",
        png.len()
    );
    let printed = std::fs::read(&pdf).expect("a PDF");
    assert!(printed.starts_with(b"%PDF"));
    let pages = printed.windows(10).filter(|w| w == b"/Type /Pag").count();
    assert!((2..=6).contains(&pages), "{pages} PDF page objects");
}

#[test]
fn english_restated_and_refusals() {
    let f = published();
    let page = report(
        &f,
        "en.html",
        &["--lang", "en", "--units-as-of", "2024-03-31"],
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let words = text(&html);
    assert!(words.contains("Of 4 goals, 2 met, 0 above 70%, 2 at 50–70%, 0 below 50%."));
    assert!(words.contains("Restated on the units of 31/03/2024"));
    assert_eq!(
        row_cells(&html, "data-kpi", "on_time_rate")[1..6],
        ["75.0%", "3 / 4", "50.0%", "150.0%", "Met"]
    );
    assert!(row_cells(&html, "data-kpi", "cashless_value_rate")[2] == "120,000 VND / 135,000 VND");

    let refused = |args: &[&str], says: &str| {
        let run = motcua(&f, args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    };
    let out = f.dir.path().join("x.html");
    let out = out.to_str().unwrap();
    refused(
        &[
            "report", "--unit", "P", "--period", "2022-03", "--output", out,
        ],
        "holds the months from 2023-03-01 to 2024-05-01, not the one starting 2022-03-01",
    );
    // The restated series is read from its own dataset and as-of day.
    refused(
        &[
            "report",
            "--unit",
            "P",
            "--period",
            "2024-04",
            "--units-as-of",
            "2024-03-31",
            "--output",
            out,
        ],
        "kpi_values_restated/units_as_of=2024-03-31 holds the months from 2024-02-01 to 2024-03-01, not the one starting 2024-04-01; pick one of those, or run `motcua kpi --grain month --units-as-of 2024-03-31` over it",
    );
    refused(
        &[
            "report",
            "--unit",
            "P",
            "--period",
            "2024-03",
            "--units-as-of",
            "2024-04-30",
            "--output",
            out,
        ],
        "holds no month periods; run `motcua kpi --grain month --from … --to … --units-as-of 2024-04-30` first",
    );
    refused(
        &[
            "report", "--unit", "ZZ", "--period", "2024-03", "--output", out,
        ],
        "unit ZZ is not among the units of the month starting 2024-03-01",
    );
    refused(
        &[
            "report", "--unit", "P", "--period", "2024-3-x", "--output", out,
        ],
        "--period 2024-3-x: name a month of the years 2000–2059 as YYYY-MM",
    );
    refused(
        &[
            "report", "--unit", "P", "--grain", "quarter", "--period", "2024-Q1", "--output", out,
        ],
        "holds no quarter periods",
    );
    refused(
        &[
            "report", "--unit", "P", "--period", "2024-03", "--output", "x.pdf",
        ],
        "end the name in .html or .xlsx",
    );
    let empty = tempfile::tempdir().unwrap();
    let run = motcua_command(&f.lake)
        .args([
            "report",
            "--unit",
            "P",
            "--period",
            "2024-03",
            "--output",
            out,
            "--published",
        ])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("kpi_values is not published"));
    assert!(!Path::new(out).exists());
}

// ---- workbooks, csv and tables ------------------------------------------

/// The workbook as openpyxl reads it: per sheet, its title, frozen cell,
/// autofilter and every cell as [value, number format].
fn read_xlsx(path: &Path) -> serde_json::Value {
    let python = std::env::var("MOTCUA_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import json, sys, datetime
import openpyxl
book = openpyxl.load_workbook(sys.argv[1])
def cell(c):
    v = c.value
    if isinstance(v, (datetime.datetime, datetime.date)):
        v = v.isoformat()
    return [v, c.number_format]
print(json.dumps([{"title": ws.title, "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
                   "rows": [[cell(c) for c in row] for row in ws.iter_rows()]} for ws in book.worksheets]))
"#;
    let run = Command::new(&python)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{python}: {e}; set MOTCUA_PYTHON to a Python with openpyxl, or run `bash .ci/run`"
            )
        });
    assert!(
        run.status.success(),
        "openpyxl could not read {}: {}; set MOTCUA_PYTHON to a Python with openpyxl (`bash .ci/run` makes one)",
        path.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// The row of `sheet` whose first cell is `key`.
fn xlsx_row<'a>(sheet: &'a serde_json::Value, key: &str) -> &'a Vec<serde_json::Value> {
    sheet["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap())
        .find(|r| r[0][0] == key)
        .unwrap_or_else(|| panic!("no row {key}"))
}

#[test]
fn workbooks_hold_raw_values_with_excel_formats_and_vietnamese_headers() {
    let f = published();
    let book = read_xlsx(&report(&f, "p.xlsx", &[]));
    let sheets = book.as_array().unwrap();
    let titles: Vec<&str> = sheets
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Bảng chỉ tiêu",
            "Diễn biến",
            "Đơn vị trực thuộc",
            "Thông tin"
        ]
    );
    let scorecard = &sheets[0];
    assert_eq!(scorecard["freeze"], "A2");
    assert_eq!(scorecard["filter"], "A1:N26");
    let headers: Vec<&str> = scorecard["rows"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap())
        .collect();
    assert_eq!(
        headers,
        [
            "Mã chỉ tiêu",
            "Chỉ tiêu",
            "Giá trị",
            "Tử số",
            "Mẫu số",
            "Mục tiêu",
            "Mức đạt",
            "Đánh giá",
            "Kỳ trước",
            "Cùng kỳ năm trước",
            "Xếp hạng",
            "Thay đổi thứ hạng",
            "Số đơn vị xếp hạng",
            "Ước tính"
        ]
    );
    let cell = |row: &Vec<serde_json::Value>, i: usize| {
        (row[i][0].clone(), row[i][1].as_str().unwrap().to_string())
    };
    let on_time = xlsx_row(scorecard, "on_time_rate");
    assert_eq!(cell(on_time, 2), (serde_json::json!(0.75), "0.0%".into()));
    assert_eq!(cell(on_time, 3), (serde_json::json!(3), "#,##0".into()));
    assert_eq!(cell(on_time, 5), (serde_json::json!(0.5), "0.0%".into()));
    assert_eq!(cell(on_time, 6), (serde_json::json!(1.5), "0.0%".into()));
    assert_eq!(on_time[7][0], "met");
    let received = xlsx_row(scorecard, "received");
    assert_eq!(cell(received, 2), (serde_json::json!(6), "#,##0".into()));
    assert_eq!(cell(received, 8), (serde_json::json!(1), "#,##0".into()));
    // (3 + 13 1/24) / 2 days, to the last bits the engine's sum gives.
    let median = xlsx_row(scorecard, "median_processing_days");
    assert!((median[2][0].as_f64().unwrap() - (3.0 + 13.0 + 1.0 / 24.0) / 2.0).abs() < 1e-12);
    assert_eq!(median[2][1], "#,##0.00");
    let cashless = xlsx_row(scorecard, "cashless_value_rate");
    assert_eq!(
        cell(cashless, 3),
        (serde_json::json!(120000), "#,##0".into())
    );
    // Trends: 12 months × 4 headline KPIs, dates as dates.
    assert_eq!(sheets[1]["rows"].as_array().unwrap().len(), 1 + 48);
    let march = sheets[1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0][0] == "2024-03-01T00:00:00" && r[1][0] == "on_time_rate")
        .expect("March's on-time row");
    assert_eq!(march[0][1], "dd/mm/yyyy");
    assert_eq!(march[2], serde_json::json!([0.75, "0.0%"]));
    // Children: D2 first, on time, ranked 1, too few dossiers (30 by default).
    let children = &sheets[2]["rows"];
    assert_eq!(children[1][0][0], "D2");
    assert_eq!(children[1][2][0], "on_time_rate");
    assert_eq!(children[1][4][0], 1);
    assert_eq!(children[1][6][0], 2);
    assert_eq!(children[1][7][0], true);
    // What the workbook is of.
    let about: Vec<(String, String)> = sheets[3]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|r| {
            (
                r[0][0].as_str().unwrap().into(),
                r[1][0].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        about[..3],
        [
            ("Tên đơn vị".into(), "Tỉnh Thử Nghiệm (P)".into()),
            ("Kỳ báo cáo".into(), "03/2024".into()),
            ("Chuỗi số liệu".into(), "như báo cáo từng kỳ".into()),
        ]
    );
    // The same report gives the same bytes.
    let again = report(&f, "p2.xlsx", &[]);
    assert_eq!(
        std::fs::read(f.dir.path().join("p.xlsx")).unwrap(),
        std::fs::read(again).unwrap()
    );

    // `query --output .xlsx`: English headers on request, timestamps in the
    // lake's zone (A2 was received at 08:00 local, 01:00 UTC).
    let q = f.dir.path().join("q.xlsx");
    stdout_of(motcua(
        &f,
        &[
            "query",
            "--sql",
            "SELECT dossier_id, received_at, fee_vnd, unit_code FROM dossiers WHERE dossier_id = 'A2'",
            "--output",
            q.to_str().unwrap(),
            "--lang",
            "en",
        ],
    ));
    let q = read_xlsx(&q);
    let rows = &q[0]["rows"];
    assert_eq!(rows[0][3][0], "Unit code");
    assert_eq!(rows[1][0][0], "A2");
    assert_eq!(
        rows[1][1],
        serde_json::json!(["2024-03-10T08:00:00", "dd/mm/yyyy hh:mm:ss"])
    );
    assert_eq!(rows[1][2], serde_json::json!([20000, "#,##0"]));
}

#[test]
fn csv_with_a_bom_tables_readable_and_the_catalog_published() {
    let f = published();
    let csv = f.dir.path().join("u.csv");
    stdout_of(motcua(
        &f,
        &[
            "query",
            "--sql",
            "SELECT name FROM units WHERE unit_code = 'D1'",
            "--output",
            csv.to_str().unwrap(),
            "--bom",
        ],
    ));
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        "\u{feff}name\nHuyện Một\n".as_bytes()
    );
    let run = motcua(&f, &["query", "--sql", "SELECT 1 AS x", "--bom"]);
    assert_eq!(run.status.code(), Some(2));

    // A table: counts whole, rates as percentages, timestamps local.
    let shown = table(
        &f,
        "SELECT kpi, numerator, value, attainment FROM kpi_values WHERE unit_code = 'P' AND period_start = DATE '2024-03-01' AND kpi IN ('received', 'on_time_rate') ORDER BY kpi",
    );
    assert!(
        shown.contains("| on_time_rate | 3         | 75.0% | 150.0%     |"),
        "{shown}"
    );
    assert!(
        shown.contains("| received     | 6         | 6     |            |"),
        "{shown}"
    );
    let shown_at = table(
        &f,
        "SELECT received_at FROM dossiers WHERE dossier_id = 'A2'",
    );
    assert!(shown_at.contains("| 2024-03-10 08:00:00 |"), "{shown_at}");
    // The same in csv stays raw.
    let run = motcua(
        &f,
        &[
            "query",
            "--sql",
            "SELECT value FROM kpi_values WHERE unit_code = 'P' AND period_start = DATE '2024-03-01' AND kpi = 'on_time_rate'",
            "--format",
            "csv",
        ],
    );
    assert_eq!(String::from_utf8(run.stdout).unwrap(), "value\n0.75\n");

    // kpi_catalog beside kpi_values: every KPI of the catalog, and every
    // kpi of kpi_values joins to it.
    let out = f.dir.path().join("out");
    let catalog = out.join("kpi_catalog.parquet");
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_parquet("catalog", catalog.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        ctx.register_parquet(
            "kpi_values",
            &format!("{}/", out.join("kpi_values").display()),
            Default::default(),
        )
        .await
        .unwrap();
        let sql = "SELECT (SELECT count(*) FROM catalog) AS a, \
                   (SELECT count(*) FROM kpi_values v LEFT JOIN catalog c ON v.kpi = c.kpi WHERE c.kpi IS NULL) AS b, \
                   (SELECT count(DISTINCT kpi) FROM kpi_values) AS c, \
                   (SELECT kind || ' ' || unit || ' ' || direction || ' ' || label_vi FROM catalog WHERE kpi = 'on_time_rate') AS d, \
                   (SELECT kind || ' ' || unit FROM catalog WHERE kpi = 'median_processing_days') AS e, \
                   (SELECT kind FROM catalog WHERE kpi = 'certificates_per_1000_adults') AS f";
        rows(&ctx.sql(sql).await.unwrap().collect().await.unwrap())
    });
    assert_eq!(
        rows,
        [[
            "25",
            "0",
            "25",
            "rate fraction up Giải quyết đúng hạn",
            "median days",
            "per_1000"
        ]]
    );
    let published_ids = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_parquet("catalog", catalog.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        common::rows(
            &ctx.sql("SELECT kpi FROM catalog ORDER BY kpi")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap(),
        )
    });
    let mut ids: Vec<Vec<String>> = motcua::spec::kpis::CATALOG
        .iter()
        .map(|k| vec![k.id.to_string()])
        .collect();
    ids.sort();
    assert_eq!(published_ids, ids);
}
