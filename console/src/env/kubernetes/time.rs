//! Kubernetes times (k8s-openapi's `jiff` timestamps) as the console's `chrono` times.

use chrono::{DateTime, Utc};
use k8s_openapi::jiff::Timestamp;

pub fn to_chrono(timestamp: Timestamp) -> DateTime<Utc> {
    let nanos = u32::try_from(timestamp.subsec_nanosecond()).unwrap_or(0);
    DateTime::from_timestamp(timestamp.as_second(), nanos).unwrap_or_default()
}

pub fn from_chrono(time: DateTime<Utc>) -> Timestamp {
    Timestamp::new(
        time.timestamp(),
        i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    )
    .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_nanosecond() {
        let now = Utc::now();
        assert_eq!(to_chrono(from_chrono(now)), now);
    }
}
