//! One input file: read, validated, de-duplicated and staged.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Date32Array, Float64Array, Int64Array, StringArray};

use crate::current;
use crate::dedupe::DedupIndex;
use crate::error::{Error, Result};
use crate::ingest::IngestOptions;
use crate::ingest::report::{
    FileReport, SHOWN_REJECTIONS, SHOWN_UNKNOWN_UNITS, mask_if, refuse_partial_replacement,
    rejection_of,
};
use crate::lake::{self, Manifest};
use crate::read::naming::UnitNames;
use crate::read::{self, Format, ProblemKind, RawRecord};
use crate::spec::feeds::{ColumnType, Feed, FeedDef, Retention};
use crate::stage::partitions::PartitionSinks;
use crate::stage::partitions::Partitioner;
use crate::stage::quarantine::QuarantineSink;
use crate::stage::writer::Partition;
use crate::storage::parquet::{column_as, has_column, read_columns};
use crate::validate::changes::{ChangesCheck, RegisteredUnit};
use crate::validate::privacy;
use crate::validate::registry::{RegistryCheck, UnitCheck};
use crate::validate::row::{Cell, Detached, RowErrors, RowParser, attach};

/// Where a valid row goes, as worked out on a reading thread: the key it
/// is de-duplicated on, and its partition.
struct Routing {
    key: Option<u128>,
    partition: Partition,
}

/// The lake a file is checked against and staged for.
pub(crate) struct Target<'a> {
    pub(crate) manifest: &'a Manifest,
    pub(crate) location: &'a crate::Location,
    /// Where its files are written until the commit; None in a dry run,
    /// which only counts what would be written.
    pub(crate) staging: Option<&'a Path>,
}

/// One input file and the ingest seq it gets.
pub(crate) struct InputFile<'a> {
    pub(crate) feed: Feed,
    pub(crate) path: &'a Path,
    pub(crate) scan: &'a read::FileScan,
    pub(crate) seq: u64,
}

pub(crate) struct StagedFile {
    pub(crate) report: FileReport,
    pub(crate) staged: Vec<lake::Staged>,
    /// Claims to be the current snapshot (feeds with `current_by`).
    pub(crate) current: Option<current::Collector>,
}

/// Reads, validates and de-duplicates one input, read from `data`; stages
/// its data and quarantine files (see [`Target::staging`]).
pub(crate) fn stage_file(
    target: &Target,
    file: &InputFile,
    data: read::Input,
    options: &IngestOptions,
    dedup: &mut DedupIndex,
) -> Result<StagedFile> {
    let def = file.feed.def();
    let format = Format::of(file.path, file.scan, options.format)?;
    let registry = match UnitCheck::applies(def) || def.feed == Feed::UnitChanges {
        true => registry_units(target)?,
        false => None,
    };
    let mut overrides = overrides(options);
    if UnitCheck::applies(def) {
        overrides.unit_names = registry.as_ref().map(|units| {
            Arc::new(UnitNames::new(
                units.iter().map(|u| (u.code.as_str(), u.name.as_str())),
            ))
        });
    }
    // Values are typed, and rows hashed and given their partition, on the
    // reading threads, each with a parser of its own; rows are checked for
    // duplicates and written on this one.
    let (zone, pii_key, keys) = (options.zone, options.pii_key.clone(), dedup.key_rule());
    let (mut source, layout) = read::open(
        file.path,
        data,
        format,
        def,
        file.scan,
        &overrides,
        move || {
            let mut parser = RowParser::new(def, zone, pii_key.clone());
            let mut partitioner = Partitioner::new(def, zone);
            move |record: &RawRecord| match &record.problem {
                Some(problem) => Err(RowErrors::Rejected(vec![(
                    problem.column.clone(),
                    problem.reason.clone(),
                )])),
                None => parser.parse_detached(record, |row| Routing {
                    key: keys.key_of(row),
                    partition: partitioner.partition_of(row),
                }),
            }
        },
    )?;
    tracing::info!(
        "ingest #{}: reading {} as {} ({format:?})",
        file.seq,
        file.path.display(),
        def.name
    );
    let sheet = layout.as_ref().and_then(|l| l.sheet.as_deref());
    let mut stager = FileStager::new(target, file, options, dedup, sheet, registry)?;
    stager.report.layout = layout;
    while let Some((records, typed)) = source.next_batch()? {
        let rows = records.len() as u64;
        for (record, typed) in records.iter().zip(typed) {
            stager.take(typed, record)?;
        }
        source.recycle(records);
        if let Some(progress) = &options.progress {
            progress
                .rows
                .fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
        }
    }
    stager.finish(source.unknown_columns())
}

/// How to read a file: the command line's flags, then the profile's.
fn overrides(options: &IngestOptions) -> read::Overrides {
    let profile = options.profile.as_deref();
    read::Overrides {
        delimiter: options.delimiter.or(profile.and_then(|p| p.delimiter)),
        exported_at: options.exported_at.clone(),
        sheet: options
            .sheet
            .clone()
            .or_else(|| profile.and_then(|p| p.sheet.clone())),
        header_row: profile.and_then(|p| p.header_row),
        profile: options.profile.clone(),
        unit_names: None,
        chunk_bytes: options.chunk_bytes,
    }
}

/// Where a quarantined row came from: the file, and in a workbook the
/// sheet (`book.xlsx#Sheet1`), which with its line finds the row.
fn source(path: &Path, sheet: Option<&str>) -> String {
    let path = absolute(path).display().to_string();
    match sheet {
        Some(sheet) => format!("{path}#{sheet}"),
        None => path,
    }
}

/// Where each row of one file goes: the lake's partitions, quarantine or
/// the duplicate count, with the checks each accepted row passes on the way.
struct FileStager<'a> {
    def: &'static FeedDef,
    path: &'a Path,
    target: &'a Target<'a>,
    dedup: &'a mut DedupIndex,
    sinks: PartitionSinks,
    quarantine: QuarantineSink,
    registry: RegistryCheck,
    /// A unit_changes file's whole-file check against the registry.
    changes: Option<ChangesCheck>,
    /// The collector of current-snapshot claims and its (id, version) columns.
    current: Option<(current::Collector, usize, usize)>,
    units: Option<UnitCheck>,
    /// For a units file: the lake's unit changes, which must fit it.
    lake_changes: ChangesCheck,
    /// The column holding a personal ID, masked in quarantine.
    personal_id: Option<usize>,
    not_utf8: u64,
    report: FileReport,
}

impl<'a> FileStager<'a> {
    fn new(
        target: &'a Target<'a>,
        file: &InputFile<'a>,
        options: &IngestOptions,
        dedup: &'a mut DedupIndex,
        sheet: Option<&str>,
        registry: Option<Vec<RegisteredUnit>>,
    ) -> Result<Self> {
        let def = file.feed.def();
        let current_by = def
            .current_by
            .and_then(|(id, version)| Some((def.column_index(id)?, def.column_index(version)?)));
        let current = match (current_by, target.staging) {
            (Some((id, version)), Some(staging)) => {
                let run = options.run_records.unwrap_or(current::RUN_RECORDS);
                Some((current::Collector::new(staging, run), id, version))
            }
            _ => None,
        };
        let changes = (def.feed == Feed::UnitChanges).then(|| ChangesCheck::new(registry.clone()));
        let mut lake_changes = ChangesCheck::new(None);
        if def.feed == Feed::Units {
            add_lake_changes(target, &mut lake_changes)?;
        }
        let codes = registry.map(|units| units.into_iter().map(|u| u.code).collect::<HashSet<_>>());
        let units = codes.and_then(|codes| UnitCheck::new(def, codes));
        let report = FileReport {
            path: file.path.to_path_buf(),
            feed: Some(file.feed),
            seq: file.seq,
            units_checked: units.is_some(),
            ..Default::default()
        };
        Ok(FileStager {
            def,
            path: file.path,
            target,
            dedup,
            sinks: PartitionSinks::new(def, target.staging, file.seq, options.zone),
            quarantine: QuarantineSink::new(
                def,
                target.staging,
                file.seq,
                source(file.path, sheet),
            ),
            registry: RegistryCheck::default(),
            changes,
            current,
            units,
            lake_changes,
            personal_id: def
                .columns
                .iter()
                .position(|c| matches!(c.ty, ColumnType::PersonalId { .. })),
            not_utf8: 0,
            report,
        })
    }

    /// One record read, with its values as typed on the reading thread.
    fn take(&mut self, typed: Detached<Routing>, record: &RawRecord) -> Result<()> {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted {
                what: format!(
                    "{} was being read at line {}; nothing of it was committed",
                    self.path.display(),
                    record.line
                ),
            });
        }
        self.report.rows_read += 1;
        self.check_encoding(record)?;
        match typed.map(|(cells, routing)| (attach(cells, record), routing)) {
            Ok((row, routing)) => self.accept(&row, record.line, routing),
            Err(RowErrors::NoPiiKey) => Err(Error::PiiKey(format!(
                "{}: {}",
                self.path.display(),
                privacy::missing_key_reason()
            ))),
            Err(RowErrors::Rejected(errors)) => self.reject(errors, record),
        }
    }

    /// A file in another encoding fails on its first rows: it is refused
    /// whole rather than every row quarantined. Stray bytes later in a UTF-8
    /// file are quarantined row by row.
    fn check_encoding(&mut self, record: &RawRecord) -> Result<()> {
        if !record
            .problem
            .as_ref()
            .is_some_and(|p| p.kind == ProblemKind::NotUtf8)
        {
            return Ok(());
        }
        self.not_utf8 += 1;
        let read = self.report.rows_read;
        if read == 1 || (read <= 100 && self.not_utf8 >= 10) {
            return Err(Error::BadFile {
                path: self.path.to_path_buf(),
                reason: format!(
                    "line {} is not UTF-8: the file looks like a legacy 8-bit Vietnamese encoding (TCVN3, VNI or Windows-1258); convert it to UTF-8, e.g. `iconv -f WINDOWS-1258 -t UTF-8 in.csv > out.csv`",
                    record.line
                ),
            });
        }
        Ok(())
    }

    fn reject(&mut self, errors: Vec<(Option<String>, String)>, record: &RawRecord) -> Result<()> {
        let known_id = self.personal_id.and_then(|i| record.get(i));
        let rejection = rejection_of(record.line, errors, self.def, known_id);
        let raw = mask_if(self.def, record.raw_text(), known_id);
        self.quarantine.push(&rejection, &raw)?;
        self.report.quarantined += 1;
        // Footers are quarantined, not shown as rejections of data.
        if record
            .problem
            .as_ref()
            .is_some_and(|p| p.kind == ProblemKind::Footer)
        {
            self.report.footer_rows += 1;
        } else if self.report.rejections.len() < SHOWN_REJECTIONS {
            self.report.rejections.push(rejection);
        }
        Ok(())
    }

    /// A valid row: counted as a duplicate, or checked and staged.
    fn accept(&mut self, row: &[Cell], line: u64, routing: Routing) -> Result<()> {
        let Routing { key, partition } = routing;
        if let Some(key) = key {
            let Target {
                manifest, location, ..
            } = *self.target;
            self.dedup
                .ensure_loaded(manifest, location, partition.as_deref())?;
            if !self.dedup.insert(key) {
                self.report.duplicates += 1;
                return Ok(());
            }
        }
        if self.def.feed == Feed::Units {
            self.registry.add(row, line);
        }
        if let Some(changes) = self.changes.as_mut() {
            changes.add(row, line);
        }
        if let Some((collector, id, version)) = self.current.as_mut()
            && let (Cell::Text(id), Cell::Ts(updated_at)) = (&row[*id], &row[*version])
        {
            collector.push(current::Latest {
                key: current::key(id),
                updated_at: *updated_at,
                seq: self.report.seq,
                line,
            })?;
        }
        if let Some(code) = self.units.as_mut().and_then(|units| units.unknown(row)) {
            let report = &mut self.report;
            report.unknown_units += 1;
            if report.unknown_unit_codes.len() < SHOWN_UNKNOWN_UNITS
                && !report.unknown_unit_codes.iter().any(|c| c == code)
            {
                report.unknown_unit_codes.push(code.to_string());
            }
        }
        let hash = self.dedup.row_hash(key);
        self.sinks.append(partition, row, line, hash)?;
        self.report.accepted += 1;
        Ok(())
    }

    /// Closes the file's staged files, after the whole-file checks.
    fn finish(mut self, unknown_columns: Vec<String>) -> Result<StagedFile> {
        let unfitting = self.refuse_unfitting_changes();
        let mut report = self.report;
        report.unknown_columns = unknown_columns;
        if !report.unknown_columns.is_empty() {
            tracing::warn!(
                "{}: column(s) {} are not part of feed {} and were left out",
                self.path.display(),
                report.unknown_columns.join(", "),
                self.def.name
            );
        }
        if self.def.retention == Retention::Replace {
            refuse_partial_replacement(&report, &self.registry, self.changes.as_ref())
                .and(unfitting)
                .map_err(|reason| Error::Refused {
                    path: self.path.to_path_buf(),
                    feed: self.def.feed.name(),
                    reason,
                })?;
        }
        let (data_files, mut staged) = self.sinks.finish()?;
        report.data_files = data_files;
        if let Some(file) = self.quarantine.finish()? {
            report.quarantine_file = Some(file.rel().to_string());
            staged.push(file);
        }
        Ok(StagedFile {
            report,
            staged,
            current: self.current.take().map(|(collector, _, _)| collector),
        })
    }
}

impl FileStager<'_> {
    /// A new registry must hold the units the lake's changes name, on their
    /// days: every SQL session carries activity through them.
    fn refuse_unfitting_changes(&mut self) -> std::result::Result<(), String> {
        if self.def.feed != Feed::Units || self.lake_changes.is_empty() {
            return Ok(());
        }
        let units = self
            .registry
            .units
            .iter()
            .map(|u| RegisteredUnit {
                code: u.code.clone(),
                name: String::new(),
                from: u.from,
                to: u.to,
            })
            .collect();
        self.lake_changes.set_registry(units);
        self.lake_changes.check().map_err(|why| {
            format!(
                "the lake's unit_changes do not fit it ({why}); ingest a unit_changes file with only its header first (that drops them), then this units file, then the changes that fit it"
            )
        })
    }
}

/// Adds the lake's unit changes (their lines are those of the file they
/// came from) to `check`.
fn add_lake_changes(target: &Target, check: &mut ChangesCheck) -> Result<()> {
    for file in target.manifest.data_files(Feed::UnitChanges) {
        let path = target.location.shown(&file.path);
        let names = [
            "old_code",
            "new_code",
            "effective_on",
            "share",
            crate::spec::feeds::SOURCE_LINE,
        ];
        for batch in read_columns(target.location, &file.path, &names)? {
            let batch = batch?;
            let olds: &StringArray = column_as(&batch, "old_code", &path, "text")?;
            let news: &StringArray = column_as(&batch, "new_code", &path, "text")?;
            let days: &Date32Array = column_as(&batch, "effective_on", &path, "a date")?;
            let shares: &Float64Array = column_as(&batch, "share", &path, "a number")?;
            let lines: &Int64Array =
                column_as(&batch, crate::spec::feeds::SOURCE_LINE, &path, "an integer")?;
            for i in 0..batch.num_rows() {
                check.add_change(
                    olds.value(i),
                    news.value(i),
                    days.value(i),
                    if shares.is_null(i) {
                        1.0
                    } else {
                        shares.value(i)
                    },
                    lines.value(i) as u64,
                );
            }
        }
    }
    Ok(())
}

/// The lake's registered units with the days they exist; None before any
/// units file. (A registry ingested before SPEC §2.1 has no validity
/// columns: its units exist every day.)
fn registry_units(target: &Target) -> Result<Option<Vec<RegisteredUnit>>> {
    let registry = target.manifest.data_files(Feed::Units);
    if registry.is_empty() {
        return Ok(None);
    }
    let mut units = Vec::new();
    for file in registry {
        let path = target.location.shown(&file.path);
        let dated = has_column(target.location, &file.path, "valid_from")?;
        let names: &[&str] = match dated {
            true => &["unit_code", "name", "valid_from", "valid_to"],
            false => &["unit_code", "name"],
        };
        for batch in read_columns(target.location, &file.path, names)? {
            let batch = batch?;
            let codes: &StringArray = column_as(&batch, "unit_code", &path, "text")?;
            let unit_names: &StringArray = column_as(&batch, "name", &path, "text")?;
            let days = |name: &str| -> Result<Option<&Date32Array>> {
                dated
                    .then(|| column_as(&batch, name, &path, "a date"))
                    .transpose()
            };
            let (from, to) = (days("valid_from")?, days("valid_to")?);
            let day = |column: Option<&Date32Array>, i: usize| {
                column.and_then(|c| (!c.is_null(i)).then(|| c.value(i)))
            };
            for i in 0..batch.num_rows() {
                if codes.is_null(i) {
                    continue;
                }
                units.push(RegisteredUnit {
                    code: codes.value(i).to_string(),
                    name: unit_names.value(i).to_string(),
                    from: day(from, i),
                    to: day(to, i),
                });
            }
        }
    }
    Ok(Some(units))
}

/// The path as the manifest and quarantine record it: absolute, so it still
/// names the file when read from another directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
