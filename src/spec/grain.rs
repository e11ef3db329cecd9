//! Calendar grains: day, week (ISO, from Monday), month, quarter and year.

use chrono::{Datelike, Months, NaiveDate};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub(crate) const ALL: [Grain; 5] = [
        Grain::Day,
        Grain::Week,
        Grain::Month,
        Grain::Quarter,
        Grain::Year,
    ];

    /// The name SQL, paths and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// The first day of the period that contains `day`.
    pub fn period_start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => day,
            Grain::Week => day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday())),
            Grain::Month => day.with_day(1).unwrap_or(day),
            Grain::Quarter => {
                NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).unwrap_or(day)
            }
            Grain::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
        }
    }

    /// The first day of the period after the one starting at `start`.
    pub(crate) fn next_period(self, start: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => start + chrono::Days::new(1),
            Grain::Week => start + chrono::Days::new(7),
            Grain::Month => start + Months::new(1),
            Grain::Quarter => start + Months::new(3),
            Grain::Year => start + Months::new(12),
        }
    }

    /// The starts of every period from the one holding `from` to the one
    /// holding `to`.
    pub(crate) fn periods_in(self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut start = self.period_start(from);
        if start < from {
            start = self.next_period(start);
        }
        let mut periods = Vec::new();
        while start <= to {
            periods.push(start);
            start = self.next_period(start);
        }
        periods
    }

    /// The first day of the period before the one starting at `start`.
    pub(crate) fn previous_period(self, start: NaiveDate) -> NaiveDate {
        self.period_start(start.pred_opt().unwrap_or(start))
    }

    /// The same period a year earlier: the same month, quarter or ISO
    /// week, or the same day.
    pub(crate) fn year_earlier(self, start: NaiveDate) -> NaiveDate {
        match self {
            Grain::Week => {
                let week = start.iso_week();
                NaiveDate::from_isoywd_opt(week.year() - 1, week.week(), chrono::Weekday::Mon)
                    .unwrap_or_else(|| self.period_start(start - chrono::Days::new(364)))
            }
            _ => self.period_start(start - Months::new(12)),
        }
    }

    /// The period a report names: `2025-06-15` (a day, or any day of the
    /// period), `2025-W24`, `2025-06`, `2025-Q2` or `2025`; its first day.
    pub fn parse_period(self, text: &str) -> Result<NaiveDate, Error> {
        let t = text.trim();
        let bad = || {
            Error::Usage(format!(
                "--period {text}: name a {self} of the years 2000–2059 as {}, or give any day of it as YYYY-MM-DD",
                match self {
                    Grain::Day => "YYYY-MM-DD",
                    Grain::Week => "YYYY-Www (ISO week, e.g. 2025-W24)",
                    Grain::Month => "YYYY-MM",
                    Grain::Quarter => "YYYY-Qn",
                    Grain::Year => "YYYY",
                }
            ))
        };
        // The calendar's years (a sign or a far year is no period of it).
        let in_calendar = |year: i32| (2000..2060).contains(&year);
        if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return match in_calendar(day.year()) {
                true => Ok(self.period_start(day)),
                false => Err(bad()),
            };
        }
        let (year, rest) = t.split_once('-').unwrap_or((t, ""));
        let year: i32 = year
            .parse()
            .ok()
            .filter(|y| in_calendar(*y))
            .ok_or_else(bad)?;
        let number = |prefix: &str| -> Option<u32> {
            rest.strip_prefix(prefix)
                .or_else(|| rest.strip_prefix(&prefix.to_ascii_lowercase()))?
                .parse()
                .ok()
        };
        let start = match self {
            Grain::Year if rest.is_empty() => NaiveDate::from_ymd_opt(year, 1, 1),
            Grain::Quarter => number("Q")
                .filter(|q| (1..=4).contains(q))
                .and_then(|q| NaiveDate::from_ymd_opt(year, 3 * q - 2, 1)),
            Grain::Month => number("").and_then(|m| NaiveDate::from_ymd_opt(year, m, 1)),
            Grain::Week => {
                number("W").and_then(|w| NaiveDate::from_isoywd_opt(year, w, chrono::Weekday::Mon))
            }
            _ => None,
        };
        start.ok_or_else(bad)
    }
}

impl std::str::FromStr for Grain {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        Grain::ALL
            .into_iter()
            .find(|g| g.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Grain::ALL.iter().map(|g| g.name()).collect();
                Error::Usage(format!(
                    "unknown grain '{text}'; use one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Grain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Grain;
    use chrono::NaiveDate;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn periods_start_where_the_calendar_says_and_a_range_holds_those_that_start_in_it() {
        let wednesday = day("2024-05-15");
        let starts: Vec<String> = Grain::ALL
            .iter()
            .map(|g| g.period_start(wednesday).to_string())
            .collect();
        assert_eq!(
            starts,
            [
                "2024-05-15",
                "2024-05-13",
                "2024-05-01",
                "2024-04-01",
                "2024-01-01"
            ]
        );
        assert_eq!(
            Grain::Quarter.next_period(day("2024-10-01")),
            day("2025-01-01")
        );
        assert_eq!(
            Grain::Month.periods_in(day("2024-01-15"), day("2024-04-01")),
            [day("2024-02-01"), day("2024-03-01"), day("2024-04-01")]
        );
        assert!(
            Grain::Year
                .periods_in(day("2024-02-01"), day("2024-12-31"))
                .is_empty()
        );
        assert_eq!("week".parse::<Grain>().unwrap(), Grain::Week);
        assert_eq!(
            Grain::Month.previous_period(day("2025-01-01")),
            day("2024-12-01")
        );
        assert_eq!(
            Grain::Quarter.year_earlier(day("2025-04-01")),
            day("2024-04-01")
        );
        assert_eq!(
            Grain::Week.year_earlier(day("2025-06-09")),
            day("2024-06-10")
        );
        let periods = [
            (Grain::Month, "2025-06", "2025-06-01"),
            (Grain::Month, "2025-06-17", "2025-06-01"),
            (Grain::Quarter, "2025-Q2", "2025-04-01"),
            (Grain::Quarter, "2025-q4", "2025-10-01"),
            (Grain::Year, "2025", "2025-01-01"),
            (Grain::Week, "2025-W24", "2025-06-09"),
            (Grain::Day, "2025-06-17", "2025-06-17"),
        ];
        for (grain, text, start) in periods {
            assert_eq!(grain.parse_period(text).unwrap(), day(start), "{text}");
        }
        for (grain, text) in [
            (Grain::Month, "2025-13"),
            (Grain::Quarter, "2025-Q5"),
            (Grain::Year, "2025-06"),
            (Grain::Day, "2025-06"),
            (Grain::Month, "-262143-01-05"),
            (Grain::Day, "+262142-12-31"),
            (Grain::Year, "1999"),
        ] {
            let err = grain.parse_period(text).unwrap_err().to_string();
            assert!(err.contains("or give any day of it as YYYY-MM-DD"), "{err}");
        }
        assert!("fortnight".parse::<Grain>().is_err());
    }
}
