//! Dossiers, portal events and signatures, as offices export them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sample::END;
use crate::sample::START;
use crate::sample::SampleReport;
use crate::sample::Style;
use crate::sample::csv_error;
use crate::sample::csv_writer;
use crate::sample::field::{BookWriter, FieldCsv, Snapshot};
use crate::sample::file_of;
use crate::sample::format::{
    channel_text, format_date, format_fee, format_local, level_text, yes_no,
};
use crate::sample::local_seconds;
use crate::sample::units::Registry;
use crate::sample::units::Rng;
use crate::sample::units::Unit;
use crate::spec::feeds::Feed;

pub(crate) struct Procedure {
    pub(crate) code: String,
    pub(crate) online_level: &'static str,
    pub(crate) days: i64,
    pub(crate) fee: i64,
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

/// Where dossier snapshots go: the system export (its mixed forms), or a
/// report screen's export.
pub(crate) enum DossierOut {
    System(csv::Writer<BufWriter<File>>),
    Book(Box<BookWriter>),
    FieldCsv(FieldCsv),
}

pub(crate) struct Writers {
    pub(crate) dossiers: DossierOut,
    pub(crate) portal: BufWriter<File>,
    pub(crate) signatures: csv::Writer<BufWriter<File>>,
    pub(crate) paths: [PathBuf; 3],
}

impl Writers {
    /// Creates the three activity files with their headers.
    fn create(out: &Path, style: Style) -> Result<Self> {
        let paths = [
            file_of(out, Feed::Dossiers),
            file_of(out, Feed::PortalEvents),
            file_of(out, Feed::Signatures),
        ];
        let portal_file = File::create(&paths[1]).map_err(|e| Error::io(&paths[1], e))?;
        let dossiers = match style {
            Style::System | Style::Canonical => {
                let mut w = csv_writer(&paths[0])?;
                w.write_record(DOSSIER_HEADER)
                    .map_err(|e| csv_error(&paths[0], e))?;
                DossierOut::System(w)
            }
            Style::Field => DossierOut::Book(Box::new(BookWriter::new(out))),
            Style::FieldCsv => DossierOut::FieldCsv(FieldCsv::create(out)?),
        };
        let mut w = Writers {
            dossiers,
            portal: BufWriter::with_capacity(1 << 20, portal_file),
            signatures: csv_writer(&paths[2])?,
            paths: paths.clone(),
        };
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
        Ok(w)
    }

    /// Flushes the files; each with its feed, in the order to ingest them.
    fn finish(mut self) -> Result<Vec<(Feed, PathBuf)>> {
        let [dossiers, portal, signatures] = self.paths.clone();
        let mut files = Vec::new();
        match self.dossiers {
            DossierOut::System(mut w) => {
                w.flush().map_err(|e| Error::io(&dossiers, e))?;
                files.push((Feed::Dossiers, dossiers));
            }
            DossierOut::Book(book) => {
                files.extend(book.finish()?.into_iter().map(|p| (Feed::Dossiers, p)));
            }
            DossierOut::FieldCsv(csv) => files.push((Feed::Dossiers, csv.finish()?)),
        }
        self.portal.flush().map_err(|e| Error::io(&portal, e))?;
        self.signatures
            .flush()
            .map_err(|e| Error::io(&signatures, e))?;
        files.push((Feed::PortalEvents, portal));
        files.push((Feed::Signatures, signatures));
        Ok(files)
    }
}

/// Where activity goes at a time: the units valid then, per level. The
/// registry changes, so there is one list per era (a run of days on which
/// it does not); a level a change abolished (the districts) sends its
/// activity to the units that took the old ones over, so the districts' own
/// one-stop shops carry on under their successors.
pub(crate) struct Offices {
    /// (first moment, units valid then per level of `LEVELS`, every unit valid then)
    eras: Vec<(i64, [Vec<usize>; 4], Vec<usize>)>,
}

/// The levels activity is drawn over, with the part of the dossiers each gets.
const LEVELS: [(&str, f64); 4] = [
    ("commune", 0.62),
    ("district", 0.28),
    ("department", 0.07),
    ("province", 0.03),
];

impl Offices {
    pub(crate) fn new(registry: &Registry, start: i64, end: i64) -> Self {
        let units = &registry.units;
        let mut starts: Vec<i64> = units
            .iter()
            .flat_map(|u| [u.from, u.to])
            .flatten()
            .filter(|&t| start < t && t < end)
            .chain([start])
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let mut eras: Vec<(i64, [Vec<usize>; 4], Vec<usize>)> = Vec::new();
        for at in starts {
            let valid: Vec<usize> = (0..units.len())
                .filter(|&i| units[i].valid_at(at))
                .collect();
            let levels: [Vec<usize>; 4] = std::array::from_fn(|k| {
                let level = LEVELS[k].0;
                let own: Vec<usize> = valid
                    .iter()
                    .copied()
                    .filter(|&i| units[i].level == level)
                    .collect();
                match eras.last() {
                    Some((_, before, _)) if own.is_empty() => before[k]
                        .iter()
                        .flat_map(|&old| {
                            registry
                                .changes
                                .iter()
                                .filter(move |(o, n, _)| *o == old && units[*n].valid_at(at))
                                .map(|(_, n, _)| *n)
                        })
                        .collect(),
                    _ => own,
                }
            });
            eras.push((at, levels, valid));
        }
        Offices { eras }
    }

    fn era(&self, at: i64) -> &(i64, [Vec<usize>; 4], Vec<usize>) {
        let after = self.eras.partition_point(|(start, _, _)| *start <= at);
        &self.eras[after.saturating_sub(1)]
    }

    /// A unit of a level (an index of `LEVELS`) valid at `at`.
    fn pick(&self, rng: &mut Rng, level: usize, at: i64) -> Option<usize> {
        let units = &self.era(at).1[level];
        (!units.is_empty()).then(|| *rng.pick(units))
    }

    /// Any unit valid at `at`.
    pub(crate) fn any(&self, rng: &mut Rng, at: i64) -> usize {
        *rng.pick(&self.era(at).2)
    }

    /// A commune valid at `at`.
    pub(crate) fn commune(&self, rng: &mut Rng, at: i64) -> Option<usize> {
        self.pick(rng, 0, at)
    }
}

pub(crate) fn write_activity(
    out: &Path,
    registry: &Registry,
    dossiers: u64,
    seed: u64,
    style: Style,
    report: &mut SampleReport,
) -> Result<()> {
    let units = &registry.units;
    let mut w = Writers::create(out, style)?;
    let mut rng = Rng::new(seed);
    let procs = procedures(&mut rng);
    let level_weights: Vec<(usize, f64)> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, (_, w))| (i, *w))
        .collect();
    let start = local_seconds(START.0, START.1, START.2);
    let end = local_seconds(END.0, END.1, END.2);
    let offices = Offices::new(registry, start, end);
    let mut generator = Generator {
        rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
        event_seq: 0,
        buf: Default::default(),
        end,
        canonical: style == Style::Canonical,
    };
    let days = (end - start) / 86_400;
    for i in 0..dossiers {
        // The day first: which units exist depends on it.
        let day = start + rng.range(0, days) * 86_400;
        let level = *rng.weighted(&level_weights);
        let unit_index = match offices.pick(&mut rng, level, day) {
            Some(unit) => unit,
            None => offices.any(&mut rng, day),
        };
        let procedure = rng.pick(&procs);
        generator.dossier(i, &units[unit_index], procedure, day, &mut w, report)?;
        // Outgoing documents and certificates scale with the dossiers.
        if i % 2 == 0 {
            generator.document(units, &offices, start, &mut w, report)?;
        }
        if i % 12 == 0 {
            generator.certificate(units, &offices, start, &mut w, report)?;
        }
    }
    report.dossiers = dossiers;
    report.files.extend(w.finish()?);
    Ok(())
}

/// (local time, event type, payment method and amount)
pub(crate) type PortalEvent<'a> = (i64, &'a str, Option<(&'a str, i64)>);

pub(crate) struct Generator {
    pub(crate) rng: Rng,
    pub(crate) event_seq: u64,
    pub(crate) buf: [String; 5],
    pub(crate) end: i64,
    /// Every value in its canonical form (`Style::Canonical`); the draws
    /// are the same, so the activity is too.
    pub(crate) canonical: bool,
}

/// Seconds into the day: office hours at a counter, any time online.
pub(crate) fn time_of_day(rng: &mut Rng, online: bool) -> i64 {
    if online {
        rng.range(0, 86_400)
    } else {
        rng.range(7 * 3600 + 1800, 17 * 3600)
    }
}

/// One dossier's drawn life: what each of its exported snapshots shows.
struct Dossier<'a> {
    id: String,
    unit: &'a Unit,
    procedure: &'a Procedure,
    channel: &'static str,
    online: bool,
    received: i64,
    due: Option<i64>,
    due_as_date: bool,
    completed: i64,
    final_status: &'static str,
    returned: i64,
    processed_online: bool,
    digitized: bool,
    e_result: bool,
    applicant_signed: bool,
    result_signed: bool,
    fee: i64,
    payment: Option<&'static str>,
    paid_at_filing: bool,
    paid_online: bool,
    satisfaction: Option<&'static str>,
    citizen: bool,
    applicant_id: String,
    /// How this office writes its export.
    vietnamese: bool,
    day_first: bool,
    fee_style: u64,
}

/// A portal application: with its dossier when it was submitted.
pub(crate) struct Application<'a> {
    pub(crate) seq: u64,
    pub(crate) unit: &'a Unit,
    pub(crate) procedure: &'a Procedure,
    pub(crate) submitted_at: i64,
    pub(crate) dossier_id: Option<&'a str>,
    pub(crate) fee: i64,
    pub(crate) payment: Option<&'a str>,
}

impl Generator {
    /// Dossier `i`: its snapshots, and its portal application when it was
    /// filed online (or abandoned before).
    pub(crate) fn dossier(
        &mut self,
        i: u64,
        unit: &Unit,
        procedure: &Procedure,
        day: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        // The draws happen in a fixed order: the same seed gives the same bytes.
        let mut d = self.draw_outcome(i, unit, procedure, day);
        self.draw_details(&mut d);
        let mut wrote_any = false;
        for (status, updated) in self.snapshots(&d) {
            if updated >= self.end {
                // Not yet happened when the export was taken.
                if wrote_any {
                    break;
                }
                continue;
            }
            wrote_any = true;
            self.write_snapshot(&d, status, updated, w, report)?;
        }
        if d.online {
            let application = Application {
                seq: i,
                unit,
                procedure,
                submitted_at: d.received,
                dossier_id: Some(&d.id),
                fee: d.fee,
                payment: d.payment,
            };
            self.application(&application, w, report)?;
        }
        if self.rng.chance(if d.online { 0.35 } else { 0.05 }) {
            let application = Application {
                seq: i + (1 << 40),
                unit,
                procedure,
                submitted_at: d.received - self.rng.range(86_400, 20 * 86_400),
                dossier_id: None,
                fee: 0,
                payment: None,
            };
            self.application(&application, w, report)?;
        }
        Ok(())
    }

    /// How the dossier came in and how it ended.
    fn draw_outcome<'a>(
        &mut self,
        i: u64,
        unit: &'a Unit,
        procedure: &'a Procedure,
        day: i64,
    ) -> Dossier<'a> {
        let rng = &mut self.rng;
        let channel = match procedure.online_level {
            "full" if rng.chance(if unit.pilot { 0.9 } else { 0.7 }) => "online",
            "partial" if rng.chance(0.5) => "online",
            _ if rng.chance(0.08) => "postal",
            _ => "counter",
        };
        let online = channel == "online";
        let received = day + time_of_day(rng, online);
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
        let completed = received + duration;
        let returned = completed + rng.range(600, 3 * 86_400);
        // Hà Nội charges no fee online (SPEC §8).
        let fee = if online && unit.cccd == 1 {
            0
        } else {
            procedure.fee
        };
        Dossier {
            id: format!("{}-{:07}", unit.code, i),
            unit,
            procedure,
            channel,
            online,
            received,
            due,
            due_as_date,
            completed,
            final_status,
            returned,
            processed_online: false,
            digitized: false,
            e_result: false,
            applicant_signed: false,
            result_signed: false,
            fee,
            payment: None,
            paid_at_filing: false,
            paid_online: false,
            satisfaction: None,
            citizen: false,
            applicant_id: String::new(),
            vietnamese: false,
            day_first: false,
            fee_style: 0,
        }
    }

    /// Its flags, payment, satisfaction and applicant, and the export's style.
    fn draw_details(&mut self, d: &mut Dossier) {
        let rng = &mut self.rng;
        let (online, pilot) = (d.online, d.unit.pilot);
        d.processed_online = match (online, d.procedure.online_level) {
            (true, "full") => rng.chance(0.92),
            (true, _) => rng.chance(0.45),
            _ => rng.chance(0.05),
        };
        d.digitized = rng.chance(if pilot { 0.95 } else { 0.75 });
        d.e_result = rng.chance(if online { 0.8 } else { 0.45 });
        d.applicant_signed = online && rng.chance(0.5);
        d.result_signed = rng.chance(if pilot { 0.97 } else { 0.7 });
        d.payment = (d.fee > 0).then(|| {
            *rng.weighted(&[
                ("cash", if pilot { 0.15 } else { 0.55 }),
                ("bank_transfer", 0.2),
                ("card", 0.05),
                ("e_wallet", 0.1),
                ("payment_platform", if online { 0.4 } else { 0.1 }),
            ])
        });
        d.paid_at_filing = rng.chance(0.7);
        d.paid_online = matches!(d.payment, Some("payment_platform"))
            || (online && d.payment.is_some() && d.payment != Some("cash"));
        d.satisfaction = rng.chance(0.5).then(|| {
            *rng.weighted(&[
                ("very_satisfied", 0.35),
                ("satisfied", 0.45),
                ("neutral", 0.13),
                ("dissatisfied", 0.07),
            ])
        });
        d.citizen = rng.chance(0.85);
        if d.citizen {
            d.applicant_id = format!(
                "{:03}{}{:02}{:06}",
                d.unit.cccd,
                rng.below(4),
                rng.below(100),
                rng.below(1_000_000)
            );
        }
        d.vietnamese = rng.chance(0.3);
        d.day_first = rng.chance(0.7);
        d.fee_style = rng.below(10);
    }

    /// Which snapshots the exports caught: (status, updated_at).
    fn snapshots(&mut self, d: &Dossier) -> Vec<(&'static str, i64)> {
        let rng = &mut self.rng;
        let mut snapshots: Vec<(&'static str, i64)> = Vec::new();
        if d.final_status == "in_progress" || rng.chance(0.55) {
            snapshots.push(("received", d.received));
        }
        if d.final_status == "in_progress" || rng.chance(0.15) {
            snapshots.push(("in_progress", d.received + rng.range(600, 86_400)));
        }
        match d.final_status {
            "returned" => {
                if rng.chance(0.4) {
                    snapshots.push(("resolved", d.completed));
                }
                snapshots.push(("returned", d.returned));
            }
            "in_progress" => {}
            status => snapshots.push((status, d.completed)),
        }
        // A dossier filed before the export always shows up in it.
        if snapshots.iter().all(|(_, updated)| *updated >= self.end) {
            snapshots.insert(0, ("received", d.received));
        }
        snapshots
    }

    /// One exported row of the dossier, written once or (a re-send) twice.
    fn write_snapshot(
        &mut self,
        d: &Dossier,
        status: &str,
        updated: i64,
        w: &mut Writers,
        report: &mut SampleReport,
    ) -> Result<()> {
        let resolved = matches!(status, "resolved" | "returned");
        let closed = resolved || matches!(status, "withdrawn" | "rejected");
        let paid = d.payment.is_some() && (d.paid_at_filing || closed);
        if !matches!(w.dossiers, DossierOut::System(_)) {
            let snapshot = Snapshot {
                id: &d.id,
                procedure: &d.procedure.code,
                unit: &d.unit.code,
                channel: d.channel,
                online_level: d.procedure.online_level,
                status,
                received: d.received,
                due: d.due.map(|due| (due, d.due_as_date)),
                completed: resolved.then_some(d.completed),
                returned: (status == "returned").then_some(d.returned),
                updated,
                flags: [
                    d.processed_online && resolved,
                    d.digitized,
                    d.e_result && resolved,
                    d.applicant_signed,
                    d.result_signed && resolved,
                ],
                fee: d.fee,
                payment: if paid { d.payment } else { None },
                paid_online: paid && d.paid_online,
                satisfaction: if resolved { d.satisfaction } else { None },
                applicant_id: &d.applicant_id,
                citizen: d.citizen,
            };
            // The same draw as the system export's: the same re-sends.
            let times = if self.rng.chance(0.02) { 2 } else { 1 };
            for _ in 0..times {
                match &mut w.dossiers {
                    DossierOut::Book(book) => book.write(&snapshot)?,
                    DossierOut::FieldCsv(csv) => csv.write(&snapshot)?,
                    DossierOut::System(_) => {}
                }
                report.dossier_rows += 1;
            }
            return Ok(());
        }
        let canonical = self.canonical;
        let day_first = d.day_first && !canonical;
        let vietnamese = d.vietnamese && !canonical;
        let [b_received, b_due, b_completed, b_returned, b_updated] = &mut self.buf;
        format_local(d.received, day_first, b_received);
        match d.due {
            // A day alone: the deadline is its end.
            Some(due) if d.due_as_date && canonical => {
                *b_due = crate::sample::iso_day(Some(due));
            }
            Some(due) if d.due_as_date => format_date(due, b_due),
            Some(due) => format_local(due, day_first, b_due),
            None => b_due.clear(),
        }
        b_completed.clear();
        if resolved {
            format_local(d.completed, day_first, b_completed);
        }
        b_returned.clear();
        if status == "returned" {
            format_local(d.returned, day_first, b_returned);
        }
        format_local(updated, day_first, b_updated);
        let yes_no = |v: bool| match canonical {
            true => {
                if v {
                    "true"
                } else {
                    "false"
                }
            }
            false => yes_no(v, vietnamese),
        };
        let fee_text = match canonical {
            true => d.fee.to_string(),
            false => format_fee(d.fee, d.fee_style),
        };
        let record: [&str; 22] = [
            &d.id,
            &d.procedure.code,
            &d.unit.code,
            channel_text(d.channel, vietnamese),
            level_text(d.procedure.online_level, vietnamese),
            status,
            b_received,
            b_due,
            b_completed,
            b_returned,
            b_updated,
            yes_no(d.processed_online && resolved),
            yes_no(d.digitized),
            yes_no(d.e_result && resolved),
            yes_no(d.applicant_signed),
            yes_no(d.result_signed && resolved),
            &fee_text,
            if paid { d.payment.unwrap_or("") } else { "" },
            yes_no(paid && d.paid_online),
            if resolved {
                d.satisfaction.unwrap_or("")
            } else {
                ""
            },
            &d.applicant_id,
            if d.citizen { "citizen" } else { "business" },
        ];
        // Exports re-send some snapshots unchanged.
        let times = if self.rng.chance(0.02) { 2 } else { 1 };
        if let DossierOut::System(dossiers) = &mut w.dossiers {
            for _ in 0..times {
                dossiers
                    .write_record(record)
                    .map_err(|e| csv_error(&w.paths[0], e))?;
                report.dossier_rows += 1;
            }
        }
        Ok(())
    }
}
