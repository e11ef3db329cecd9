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
        assert!("fortnight".parse::<Grain>().is_err());
    }
}
