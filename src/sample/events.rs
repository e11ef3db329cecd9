//! Portal sessions and signature events.

use std::io::Write;

use crate::error::{Error, Result};
use crate::sample::SampleReport;
use crate::sample::activity::{Application, Generator, Offices, PortalEvent, Writers, time_of_day};
use crate::sample::csv_error;
use crate::sample::format::{format_local, format_utc_z};
use crate::sample::units::Unit;

impl Generator {
    fn next_event_id(&mut self, prefix: &str) -> String {
        self.event_seq += 1;
        format!("{prefix}{:010}", self.event_seq)
    }

    /// A portal session: started, paid, submitted — or abandoned.
    pub(crate) fn application(
        &mut self,
        app: &Application,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let Application {
            seq: i,
            unit,
            procedure,
            submitted_at,
            dossier_id,
            fee,
            payment,
        } = *app;
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
        offices: &Offices,
        start: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let days = (self.end - start) / 86_400;
        let day = start + self.rng.range(0, days) * 86_400;
        let unit = &units[offices.any(&mut self.rng, day)];
        let at = day + time_of_day(&mut self.rng, false);
        let signed = self.rng.chance(if unit.pilot { 0.99 } else { 0.8 });
        let event_id = self.next_event_id("SG");
        let [b, ..] = &mut self.buf;
        format_local(at, !self.canonical, b);
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
        offices: &Offices,
        start: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let days = (self.end - start) / 86_400;
        let day = start + self.rng.range(0, days) * 86_400;
        let Some(commune) = offices.commune(&mut self.rng, day) else {
            return Ok(());
        };
        let unit = &units[commune];
        let at = day + time_of_day(&mut self.rng, false);
        let free = self.rng.chance(if unit.cccd == 1 { 0.85 } else { 0.4 });
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
            match (free, self.canonical) {
                (true, true) => "true",
                (false, true) => "false",
                (true, false) => "yes",
                (false, false) => "no",
            },
        ];
        w.signatures
            .write_record(record)
            .map_err(|e| csv_error(&w.paths[2], e))?;
        report.signatures += 1;
        Ok(())
    }
}
