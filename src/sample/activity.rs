//! Dossiers, portal events and signatures, as offices export them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike};

use crate::error::{Error, Result};
use crate::sample::END;
use crate::sample::OFFSET_SECONDS;
use crate::sample::START;
use crate::sample::SampleReport;
use crate::sample::csv_error;
use crate::sample::csv_writer;
use crate::sample::file_of;
use crate::sample::local_seconds;
use crate::sample::units::PROVINCES;
use crate::sample::units::Rng;
use crate::sample::units::Unit;
use crate::spec::feeds::Feed;

/// Formats local seconds as a Vietnamese export would: day-first most of
/// the time, ISO with the +07:00 offset otherwise.
pub(crate) fn format_local(secs: i64, day_first: bool, buf: &mut String) {
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
pub(crate) fn format_utc_z(local_secs: i64, buf: &mut String) {
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

pub(crate) fn format_date(secs: i64, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    use std::fmt::Write as _;
    let _ = write!(buf, "{:02}/{:02}/{}", t.day(), t.month(), t.year());
}

/// Formats a fee as exports do: plain, or with Vietnamese grouping.
pub(crate) fn format_fee(fee: i64, style: u64) -> String {
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

pub(crate) struct Procedure {
    pub(crate) code: String,
    pub(crate) online_level: &'static str,
    pub(crate) days: i64,
    pub(crate) fee: i64,
}

pub(crate) fn procedures(rng: &mut Rng) -> Vec<Procedure> {
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

pub(crate) const DOSSIER_HEADER: [&str; 22] = [
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

pub(crate) struct Writers {
    pub(crate) dossiers: csv::Writer<BufWriter<File>>,
    pub(crate) portal: BufWriter<File>,
    pub(crate) signatures: csv::Writer<BufWriter<File>>,
    pub(crate) paths: [PathBuf; 3],
}

pub(crate) fn write_activity(
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
pub(crate) type PortalEvent<'a> = (i64, &'a str, Option<(&'a str, i64)>);

pub(crate) struct Generator {
    pub(crate) rng: Rng,
    pub(crate) event_seq: u64,
    pub(crate) buf: [String; 5],
    pub(crate) end: i64,
}

/// Seconds into the day: office hours at a counter, any time online.
pub(crate) fn time_of_day(rng: &mut Rng, online: bool) -> i64 {
    if online {
        rng.range(0, 86_400)
    } else {
        rng.range(7 * 3600 + 1800, 17 * 3600)
    }
}

impl Generator {
    pub(crate) fn dossier(
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

    pub(crate) fn next_event_id(&mut self, prefix: &str) -> String {
        self.event_seq += 1;
        format!("{prefix}{:010}", self.event_seq)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn application(
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

    pub(crate) fn document(
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

    pub(crate) fn certificate(
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
