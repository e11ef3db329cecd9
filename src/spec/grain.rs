//! Calendar grains: day, week, month, quarter and year.

use chrono::{Datelike, Months, NaiveDate};

pub const GRAINS: [&str; 5] = ["day", "week", "month", "quarter", "year"];

/// The first day of the period of `grain` that contains `day`.
pub fn period_start(grain: &str, day: NaiveDate) -> NaiveDate {
    match grain {
        "week" => day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday())),
        "month" => day.with_day(1).unwrap_or(day),
        "quarter" => {
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).unwrap_or(day)
        }
        "year" => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
        _ => day,
    }
}

/// The first day of the next period of `grain` after the one starting at `start`.
pub fn next_period(grain: &str, start: NaiveDate) -> NaiveDate {
    match grain {
        "week" => start + chrono::Days::new(7),
        "month" => start + Months::new(1),
        "quarter" => start + Months::new(3),
        "year" => start + Months::new(12),
        _ => start + chrono::Days::new(1),
    }
}
