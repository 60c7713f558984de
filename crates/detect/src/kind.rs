//! What kind of identifier a value is.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The kind of a device or personal identifier.
///
/// The same enum names declared values (profile, `--id KIND=VALUE`) and values found without a
/// declaration; [`Kind::as_str`] is the spelling used on the command line, in profiles and in
/// findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 15-digit handset identity (14 digits + Luhn check digit).
    Imei,
    /// 14-hex-digit CDMA handset identity.
    Meid,
    /// Subscriber identity: MCC + MNC + MSIN, up to 15 digits.
    Imsi,
    /// SIM card number: 19 or 20 digits starting with 89, Luhn-checked.
    Iccid,
    /// The device's own phone number (MSISDN).
    Phone,
    /// A contact's phone number or e-mail address (from the address book).
    Contact,
    /// A network interface hardware address (Wi-Fi, Ethernet, Bluetooth).
    Mac,
    /// Android's 64-bit `Settings.Secure.ANDROID_ID` (16 hex digits).
    AndroidId,
    /// Resettable advertising identifier: Google GAID, Apple IDFA, Huawei OAID (a UUID).
    AdvertisingId,
    /// Hardware serial number.
    Serial,
    /// An app- or vendor-assigned device identifier (UDID, IDFV, vendor device ids) that is
    /// none of the above. Undeclared findings of this kind need a device-id key.
    DeviceId,
    /// An analytics client identifier (Google Analytics `cid`, `_ga`, `_gid`).
    AnalyticsId,
    /// An e-mail address.
    Email,
    /// A person's name.
    Name,
    /// An account or login name.
    Username,
    /// A position, `LAT,LON` in decimal degrees, matched within a tolerance.
    Location,
    /// Any other string, matched exactly (case-sensitive).
    Custom,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 17] = [
        Kind::Imei,
        Kind::Meid,
        Kind::Imsi,
        Kind::Iccid,
        Kind::Phone,
        Kind::Contact,
        Kind::Mac,
        Kind::AndroidId,
        Kind::AdvertisingId,
        Kind::Serial,
        Kind::DeviceId,
        Kind::AnalyticsId,
        Kind::Email,
        Kind::Name,
        Kind::Username,
        Kind::Location,
        Kind::Custom,
    ];

    /// The name used in profiles, flags and findings (`android_id`, `imei`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Imei => "imei",
            Kind::Meid => "meid",
            Kind::Imsi => "imsi",
            Kind::Iccid => "iccid",
            Kind::Phone => "phone",
            Kind::Contact => "contact",
            Kind::Mac => "mac",
            Kind::AndroidId => "android_id",
            Kind::AdvertisingId => "advertising_id",
            Kind::Serial => "serial",
            Kind::DeviceId => "device_id",
            Kind::AnalyticsId => "analytics_id",
            Kind::Email => "email",
            Kind::Name => "name",
            Kind::Username => "username",
            Kind::Location => "location",
            Kind::Custom => "custom",
        }
    }

    /// Whether a plain occurrence may differ in ASCII case from the declared value.
    ///
    /// Hex-like identifiers, e-mail addresses, names and user names are case-insensitive;
    /// `custom` strings are matched exactly, as declared.
    pub fn case_insensitive(self) -> bool {
        !matches!(self, Kind::Custom)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Kind::from_str`]: the name is not a known kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identifier kind {0:?} (known: {known})", known = known_kinds())]
pub struct UnknownKind(pub String);

fn known_kinds() -> String {
    Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

impl FromStr for Kind {
    type Err = UnknownKind;

    /// Accepts the canonical names plus a few common aliases (`gaid`, `idfa`, `oaid`, `msisdn`,
    /// `e-mail`, `gps`...), case-insensitively, `-` and `_` alike.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s.trim().chars().map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() }).collect();
        let kind = match norm.as_str() {
            "imei" => Kind::Imei,
            "meid" => Kind::Meid,
            "imsi" => Kind::Imsi,
            "iccid" | "sim_serial" => Kind::Iccid,
            "phone" | "msisdn" | "phone_number" => Kind::Phone,
            "contact" => Kind::Contact,
            "mac" | "bssid" | "wifi_mac" | "bt_mac" => Kind::Mac,
            "android_id" | "ssaid" => Kind::AndroidId,
            "advertising_id" | "ad_id" | "gaid" | "aaid" | "idfa" | "oaid" => Kind::AdvertisingId,
            "serial" | "serial_number" => Kind::Serial,
            "device_id" | "udid" | "idfv" => Kind::DeviceId,
            "analytics_id" | "ga_cid" => Kind::AnalyticsId,
            "email" | "e_mail" => Kind::Email,
            "name" => Kind::Name,
            "username" | "user" | "login" => Kind::Username,
            "location" | "gps" | "latlon" => Kind::Location,
            "custom" => Kind::Custom,
            _ => return Err(UnknownKind(s.to_string())),
        };
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        assert_eq!("IDFA".parse::<Kind>().unwrap(), Kind::AdvertisingId);
        assert_eq!("android-id".parse::<Kind>().unwrap(), Kind::AndroidId);
        let err = "imeii".parse::<Kind>().unwrap_err().to_string();
        assert!(err.contains("imeii") && err.contains("android_id"), "{err}");
    }
}
