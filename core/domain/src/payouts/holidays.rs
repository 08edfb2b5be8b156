//! The bank holidays of each covered country, as data: fixed dates and moveable rules where a
//! rule is certain, dates listed per year where the date is set by the moon, by astronomy or
//! by a yearly announcement. [`BusinessCalendar`](super::BusinessCalendar) reads them.
//!
//! Each country's list says where it comes from. The lists hold the days on which the
//! country's banks do not settle domestic payments: its nationwide public holidays, the extra
//! days its banks close (24 and 31 December in Germany, 31 December to 3 January in Japan,
//! Carnival in Brazil), and none of the holidays that only some regions keep.
//!
//! `testdata/holidays.csv` lists every date these rules give for 2026 to 2028, so a change to
//! the data shows up as a change to that table.

use super::Weekday;
use super::calendar::Weekend;

/// When a rule's holiday falls.
#[derive(Clone, Copy, Debug)]
pub(crate) enum When {
    /// The same month and day every year.
    Fixed { month: u32, day: u32 },
    /// A number of days from Easter Sunday (Gregorian): -2 is Good Friday.
    Easter { offset_days: i64 },
    /// The `nth` (1 to 5) `weekday` of `month`.
    NthWeekday {
        month: u32,
        weekday: Weekday,
        nth: u32,
    },
    /// The last `weekday` of `month`.
    LastWeekday { month: u32, weekday: Weekday },
    /// One date in one year.
    Listed { year: i64, month: u32, day: u32 },
}

/// What happens when a holiday falls on a day that is already closed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Observance {
    /// Nothing: the holiday is kept on its date only.
    OnTheDay,
    /// On a Sunday, the Monday after closes too; on a Saturday, nothing (the Federal Reserve
    /// Banks' rule: they stay open on the Friday before).
    SundayToMonday,
    /// On a weekend day, the next day that is neither a weekend day nor a holiday closes in
    /// lieu (England and Wales' substitute days; Bahrain's days in lieu).
    NextFreeWorkday,
    /// On a Sunday, the next day that is not a holiday closes in lieu (Japan's substitute
    /// holiday, Act on National Holidays, article 3(2)).
    SundayToNextFreeDay,
}

/// One holiday rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    pub(crate) name: &'static str,
    pub(crate) when: When,
    pub(crate) observance: Observance,
    /// A public holiday, as opposed to a day only the banks close; only public holidays take
    /// part in Japan's citizens'-holiday rule.
    pub(crate) public: bool,
    /// The date is expected, not yet announced (see `Holiday::provisional`).
    pub(crate) provisional: bool,
}

impl Rule {
    const fn new(name: &'static str, when: When) -> Self {
        Self {
            name,
            when,
            observance: Observance::OnTheDay,
            public: true,
            provisional: false,
        }
    }

    const fn observed(self, observance: Observance) -> Self {
        Self { observance, ..self }
    }

    const fn bank_only(self) -> Self {
        Self {
            public: false,
            ..self
        }
    }
}

const fn fixed(name: &'static str, month: u32, day: u32) -> Rule {
    Rule::new(name, When::Fixed { month, day })
}

const fn easter(name: &'static str, offset_days: i64) -> Rule {
    Rule::new(name, When::Easter { offset_days })
}

const fn nth(name: &'static str, month: u32, weekday: Weekday, nth: u32) -> Rule {
    Rule::new(
        name,
        When::NthWeekday {
            month,
            weekday,
            nth,
        },
    )
}

const fn last(name: &'static str, month: u32, weekday: Weekday) -> Rule {
    Rule::new(name, When::LastWeekday { month, weekday })
}

/// A date announced for one year.
const fn on(name: &'static str, year: i64, month: u32, day: u32) -> Rule {
    Rule::new(name, When::Listed { year, month, day })
}

/// A date expected for one year, to be confirmed by its announcement.
const fn expected(name: &'static str, year: i64, month: u32, day: u32) -> Rule {
    Rule {
        provisional: true,
        ..on(name, year, month, day)
    }
}

/// A country's weekend and holiday rules.
#[derive(Debug)]
pub(crate) struct CountryData {
    pub(crate) code: &'static str,
    pub(crate) weekend: Weekend,
    /// Whether Japan's citizens'-holiday rule applies.
    pub(crate) citizens_holiday: bool,
    pub(crate) rules: &'static [Rule],
}

const MON: Weekday = Weekday::Monday;
const THU: Weekday = Weekday::Thursday;

/// Every covered country.
pub(crate) static COUNTRIES: &[CountryData] = &[
    country("DE", Weekend::SaturdaySunday, DE),
    country("FR", Weekend::SaturdaySunday, FR),
    country("NL", Weekend::SaturdaySunday, NL),
    country("GB", Weekend::SaturdaySunday, GB),
    country("US", Weekend::SaturdaySunday, US),
    country("BR", Weekend::SaturdaySunday, BR),
    country("IN", Weekend::SundayAndSecondFourthSaturday, IN),
    CountryData {
        citizens_holiday: true,
        ..country("JP", Weekend::SaturdaySunday, JP)
    },
    country("MX", Weekend::SaturdaySunday, MX),
    country("KW", Weekend::FridaySaturday, KW),
    country("BH", Weekend::FridaySaturday, BH),
];

const fn country(code: &'static str, weekend: Weekend, rules: &'static [Rule]) -> CountryData {
    CountryData {
        code,
        weekend,
        citizens_holiday: false,
        rules,
    }
}

/// Germany. The nine holidays every federal state keeps under its public-holiday law, plus 24
/// and 31 December, which German banks do not count as business days although they are not
/// public holidays. Holidays only some states keep (Epiphany, Corpus Christi, Assumption,
/// Reformation Day, All Saints' Day, Repentance Day, Women's Day) are left out.
static DE: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    easter("Good Friday", -2),
    easter("Easter Monday", 1),
    fixed("Labour Day", 5, 1),
    easter("Ascension Day", 39),
    easter("Whit Monday", 50),
    fixed("Day of German Unity", 10, 3),
    fixed("Christmas Eve", 12, 24).bank_only(),
    fixed("Christmas Day", 12, 25),
    fixed("Second Day of Christmas", 12, 26),
    fixed("New Year's Eve", 12, 31).bank_only(),
];

/// France. The eleven public holidays of the Labour Code (Code du travail, article
/// L3133-1). Good Friday and 26 December are holidays only in Alsace-Moselle; they are TARGET
/// closing days, which SEPA rails skip anyway.
static FR: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    easter("Easter Monday", 1),
    fixed("Labour Day", 5, 1),
    fixed("Victory in Europe Day", 5, 8),
    easter("Ascension Day", 39),
    easter("Whit Monday", 50),
    fixed("Bastille Day", 7, 14),
    fixed("Assumption", 8, 15),
    fixed("All Saints' Day", 11, 1),
    fixed("Armistice Day", 11, 11),
    fixed("Christmas Day", 12, 25),
];

/// The Netherlands. The public holidays the government lists (government.nl, "Public
/// holidays in the Netherlands"), less Easter Sunday and Whit Sunday. King's Day is 27 April, or 26 April
/// when the 27th is a Sunday; it is a Sunday in none of the covered years, so the dates are
/// listed. Liberation Day (5 May) is a general day off only every fifth year (2025, 2030) and
/// is left out.
static NL: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    easter("Good Friday", -2),
    easter("Easter Monday", 1),
    on("King's Day", 2026, 4, 27),
    on("King's Day", 2027, 4, 27),
    on("King's Day", 2028, 4, 27),
    easter("Ascension Day", 39),
    easter("Whit Monday", 50),
    fixed("Christmas Day", 12, 25),
    fixed("Second Day of Christmas", 12, 26),
];

/// The United Kingdom: the bank holidays of England and Wales (gov.uk/bank-holidays; Banking
/// and Financial Dealings Act 1971, schedule 1), on which the UK payment schemes close. A
/// holiday on a weekend gives the next free weekday in lieu. Scotland's and Northern
/// Ireland's own days are left out.
static GB: &[Rule] = &[
    fixed("New Year's Day", 1, 1).observed(Observance::NextFreeWorkday),
    easter("Good Friday", -2),
    easter("Easter Monday", 1),
    nth("Early May bank holiday", 5, MON, 1),
    last("Spring bank holiday", 5, MON),
    last("Summer bank holiday", 8, MON),
    fixed("Christmas Day", 12, 25).observed(Observance::NextFreeWorkday),
    fixed("Boxing Day", 12, 26).observed(Observance::NextFreeWorkday),
];

/// The United States: the holidays of the Federal Reserve Banks (the Federal Reserve
/// Financial Services holiday schedule), on which Fedwire and FedACH do not settle. A holiday
/// on a Sunday closes the Monday after; one on a Saturday closes nothing extra.
static US: &[Rule] = &[
    fixed("New Year's Day", 1, 1).observed(Observance::SundayToMonday),
    nth("Birthday of Martin Luther King Jr.", 1, MON, 3),
    nth("Washington's Birthday", 2, MON, 3),
    last("Memorial Day", 5, MON),
    fixed("Juneteenth National Independence Day", 6, 19).observed(Observance::SundayToMonday),
    fixed("Independence Day", 7, 4).observed(Observance::SundayToMonday),
    nth("Labor Day", 9, MON, 1),
    nth("Columbus Day", 10, MON, 2),
    fixed("Veterans Day", 11, 11).observed(Observance::SundayToMonday),
    nth("Thanksgiving Day", 11, THU, 4),
    fixed("Christmas Day", 12, 25).observed(Observance::SundayToMonday),
];

/// Brazil. The national holidays (Law 662 of 1949 as amended, Law 6.802 of 1980 for 12
/// October, Law 14.759 of 2023 for 20 November) and the days banks close nationwide by
/// FEBRABAN's bank-holiday calendar: Carnival Monday and Tuesday, Good Friday and Corpus
/// Christi. Banks open at noon on Ash Wednesday, which is a business day here. State and city
/// holidays are left out.
static BR: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    easter("Carnival Monday", -48),
    easter("Carnival Tuesday", -47),
    easter("Good Friday", -2),
    fixed("Tiradentes' Day", 4, 21),
    fixed("Labour Day", 5, 1),
    easter("Corpus Christi", 60),
    fixed("Independence Day", 9, 7),
    fixed("Our Lady of Aparecida", 10, 12),
    fixed("All Souls' Day", 11, 2),
    fixed("Proclamation of the Republic", 11, 15),
    fixed("Black Consciousness Day", 11, 20),
    fixed("Christmas Day", 12, 25),
];

/// India. Bank holidays are declared state by state under the Negotiable Instruments Act,
/// 1881 (the Reserve Bank of India publishes them per state); the only ones every state keeps
/// are the three national holidays listed here. Holidays of the Hindu, Islamic and other
/// calendars differ by state and are left out, so a business day here may still be a holiday
/// at the recipient's branch; the Indian rails (UPI, IMPS) run every day regardless. Banks
/// also close on the second and fourth Saturdays (the weekend rule).
static IN: &[Rule] = &[
    fixed("Republic Day", 1, 26),
    fixed("Independence Day", 8, 15),
    fixed("Gandhi Jayanti", 10, 2),
];

/// Japan. The national holidays (Act on National Holidays, Act No. 178 of 1948; the
/// Cabinet Office publishes each year's list) with its substitute and citizens'-holiday
/// rules, and 31 December to 3 January, when banks close (Banking Act Enforcement Order,
/// article 5). The equinox days are set by astronomy and announced in the Official Gazette in
/// February of the year before: those of 2026 and 2027 are announced, those of 2028 are the
/// National Astronomical Observatory's computation, still to be announced.
static JP: &[Rule] = &[
    fixed("New Year's Day", 1, 1).observed(Observance::SundayToNextFreeDay),
    fixed("Bank holiday", 1, 2).bank_only(),
    fixed("Bank holiday", 1, 3).bank_only(),
    nth("Coming of Age Day", 1, MON, 2),
    fixed("National Foundation Day", 2, 11).observed(Observance::SundayToNextFreeDay),
    fixed("Emperor's Birthday", 2, 23).observed(Observance::SundayToNextFreeDay),
    on("Vernal Equinox Day", 2026, 3, 20).observed(Observance::SundayToNextFreeDay),
    on("Vernal Equinox Day", 2027, 3, 21).observed(Observance::SundayToNextFreeDay),
    expected("Vernal Equinox Day", 2028, 3, 20).observed(Observance::SundayToNextFreeDay),
    fixed("Showa Day", 4, 29).observed(Observance::SundayToNextFreeDay),
    fixed("Constitution Memorial Day", 5, 3).observed(Observance::SundayToNextFreeDay),
    fixed("Greenery Day", 5, 4).observed(Observance::SundayToNextFreeDay),
    fixed("Children's Day", 5, 5).observed(Observance::SundayToNextFreeDay),
    nth("Marine Day", 7, MON, 3),
    fixed("Mountain Day", 8, 11).observed(Observance::SundayToNextFreeDay),
    nth("Respect for the Aged Day", 9, MON, 3),
    on("Autumnal Equinox Day", 2026, 9, 23).observed(Observance::SundayToNextFreeDay),
    on("Autumnal Equinox Day", 2027, 9, 23).observed(Observance::SundayToNextFreeDay),
    expected("Autumnal Equinox Day", 2028, 9, 22).observed(Observance::SundayToNextFreeDay),
    nth("Sports Day", 10, MON, 2),
    fixed("Culture Day", 11, 3).observed(Observance::SundayToNextFreeDay),
    fixed("Labour Thanksgiving Day", 11, 23).observed(Observance::SundayToNextFreeDay),
    fixed("Bank holiday", 12, 31).bank_only(),
];

/// Mexico. The days the National Banking and Securities Commission (CNBV) declares each year,
/// in the Official Gazette, as days on which banks close: the Federal Labour Law's holidays
/// (article 74, with its Monday holidays) plus Holy Thursday, Good Friday, 2 November and 12
/// December. The 1 October holiday of an inauguration year (the next is 2030) is outside the
/// covered years.
static MX: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    nth("Constitution Day", 2, MON, 1),
    nth("Benito Juarez's Birthday", 3, MON, 3),
    easter("Holy Thursday", -3),
    easter("Good Friday", -2),
    fixed("Labour Day", 5, 1),
    fixed("Independence Day", 9, 16),
    fixed("All Souls' Day", 11, 2),
    nth("Revolution Day", 11, MON, 3),
    fixed("Our Lady of Guadalupe", 12, 12),
    fixed("Christmas Day", 12, 25),
];

/// Kuwait. New Year's Day, National Day and Liberation Day, and the Islamic holidays: Isra'
/// and Mi'raj (27 Rajab), Eid al-Fitr (1 to 3 Shawwal), the Day of Arafah and Eid al-Adha (9
/// to 12 Dhu al-Hijjah), the Islamic New Year (1 Muharram) and the Prophet's Birthday (12
/// Rabi' al-Awwal). The Islamic dates depend on the sighting of the moon: listed here are the
/// dates the Umm al-Qura calendar gives, as expected dates. The Civil Service Commission
/// announces each holiday shortly before, and often joins it to the weekend with extra days;
/// the data must follow each announcement.
static KW: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    fixed("National Day", 2, 25),
    fixed("Liberation Day", 2, 26),
    expected("Isra' and Mi'raj", 2026, 1, 16),
    expected("Eid al-Fitr", 2026, 3, 20),
    expected("Eid al-Fitr", 2026, 3, 21),
    expected("Eid al-Fitr", 2026, 3, 22),
    expected("Day of Arafah", 2026, 5, 26),
    expected("Eid al-Adha", 2026, 5, 27),
    expected("Eid al-Adha", 2026, 5, 28),
    expected("Eid al-Adha", 2026, 5, 29),
    expected("Islamic New Year", 2026, 6, 16),
    expected("Prophet's Birthday", 2026, 8, 25),
    expected("Isra' and Mi'raj", 2027, 1, 5),
    expected("Eid al-Fitr", 2027, 3, 9),
    expected("Eid al-Fitr", 2027, 3, 10),
    expected("Eid al-Fitr", 2027, 3, 11),
    expected("Day of Arafah", 2027, 5, 15),
    expected("Eid al-Adha", 2027, 5, 16),
    expected("Eid al-Adha", 2027, 5, 17),
    expected("Eid al-Adha", 2027, 5, 18),
    expected("Islamic New Year", 2027, 6, 6),
    expected("Prophet's Birthday", 2027, 8, 14),
    expected("Isra' and Mi'raj", 2027, 12, 25),
    expected("Eid al-Fitr", 2028, 2, 26),
    expected("Eid al-Fitr", 2028, 2, 27),
    expected("Eid al-Fitr", 2028, 2, 28),
    expected("Day of Arafah", 2028, 5, 4),
    expected("Eid al-Adha", 2028, 5, 5),
    expected("Eid al-Adha", 2028, 5, 6),
    expected("Eid al-Adha", 2028, 5, 7),
    expected("Islamic New Year", 2028, 5, 25),
    expected("Prophet's Birthday", 2028, 8, 3),
    expected("Isra' and Mi'raj", 2028, 12, 14),
];

const IN_LIEU: Observance = Observance::NextFreeWorkday;

/// Bahrain. New Year's Day, Labour Day, National Day (16 and 17 December) and the Islamic
/// holidays: Eid al-Fitr (1 to 3 Shawwal), the Day of Arafah and Eid al-Adha (9 to 12 Dhu
/// al-Hijjah), the Islamic New Year, Ashura (9 and 10 Muharram) and the Prophet's Birthday.
/// The Islamic dates depend on the sighting of the moon and are listed as expected dates
/// (Umm al-Qura calendar; Ashura 2026 a day after the Umm al-Qura dates, as
/// reported for that year). The Prime Minister's circular
/// for each holiday gives a day in lieu for each holiday day that falls on the weekend, which
/// the rules reproduce for the Islamic holidays and National Day; the data must follow each
/// circular.
static BH: &[Rule] = &[
    fixed("New Year's Day", 1, 1),
    fixed("Labour Day", 5, 1),
    fixed("National Day", 12, 16).observed(IN_LIEU),
    fixed("National Day", 12, 17).observed(IN_LIEU),
    expected("Eid al-Fitr", 2026, 3, 20).observed(IN_LIEU),
    expected("Eid al-Fitr", 2026, 3, 21).observed(IN_LIEU),
    expected("Eid al-Fitr", 2026, 3, 22).observed(IN_LIEU),
    expected("Day of Arafah", 2026, 5, 26).observed(IN_LIEU),
    expected("Eid al-Adha", 2026, 5, 27).observed(IN_LIEU),
    expected("Eid al-Adha", 2026, 5, 28).observed(IN_LIEU),
    expected("Eid al-Adha", 2026, 5, 29).observed(IN_LIEU),
    expected("Islamic New Year", 2026, 6, 16).observed(IN_LIEU),
    expected("Ashura", 2026, 6, 25).observed(IN_LIEU),
    expected("Ashura", 2026, 6, 26).observed(IN_LIEU),
    expected("Prophet's Birthday", 2026, 8, 25).observed(IN_LIEU),
    expected("Eid al-Fitr", 2027, 3, 9).observed(IN_LIEU),
    expected("Eid al-Fitr", 2027, 3, 10).observed(IN_LIEU),
    expected("Eid al-Fitr", 2027, 3, 11).observed(IN_LIEU),
    expected("Day of Arafah", 2027, 5, 15).observed(IN_LIEU),
    expected("Eid al-Adha", 2027, 5, 16).observed(IN_LIEU),
    expected("Eid al-Adha", 2027, 5, 17).observed(IN_LIEU),
    expected("Eid al-Adha", 2027, 5, 18).observed(IN_LIEU),
    expected("Islamic New Year", 2027, 6, 6).observed(IN_LIEU),
    expected("Ashura", 2027, 6, 14).observed(IN_LIEU),
    expected("Ashura", 2027, 6, 15).observed(IN_LIEU),
    expected("Prophet's Birthday", 2027, 8, 14).observed(IN_LIEU),
    expected("Eid al-Fitr", 2028, 2, 26).observed(IN_LIEU),
    expected("Eid al-Fitr", 2028, 2, 27).observed(IN_LIEU),
    expected("Eid al-Fitr", 2028, 2, 28).observed(IN_LIEU),
    expected("Day of Arafah", 2028, 5, 4).observed(IN_LIEU),
    expected("Eid al-Adha", 2028, 5, 5).observed(IN_LIEU),
    expected("Eid al-Adha", 2028, 5, 6).observed(IN_LIEU),
    expected("Eid al-Adha", 2028, 5, 7).observed(IN_LIEU),
    expected("Islamic New Year", 2028, 5, 25).observed(IN_LIEU),
    expected("Ashura", 2028, 6, 2).observed(IN_LIEU),
    expected("Ashura", 2028, 6, 3).observed(IN_LIEU),
    expected("Prophet's Birthday", 2028, 8, 3).observed(IN_LIEU),
];
