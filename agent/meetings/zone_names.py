"""Zone names that work but are not what people mean, and the IANA name to use instead.

Fixed offsets without DST (EST, MST, Etc/GMT+5), POSIX-style US/EU rule zones (EST5EDT,
CET) and the common old names of tzdata's 'backward' file (US/Eastern, Asia/Calcutta).
No imports: the config loader uses it for its messages about unknown zones too.
"""

from __future__ import annotations

import re

# Fixed-offset and POSIX-style names: one offset all year (or US rules only), no local history.
_FIXED = {
    "EST": (
        "-05:00",
        "America/New_York (or America/Cancun, America/Panama for places without DST)",
    ),
    "MST": ("-07:00", "America/Denver (or America/Phoenix for Arizona, without DST)"),
    "HST": ("-10:00", "Pacific/Honolulu"),
    "UCT": ("+00:00", "UTC or Etc/UTC (or a city's zone like Europe/London)"),
    "GMT": ("+00:00", "Europe/London, or UTC for no local time at all"),
}
_POSIX = {
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
    "WET": "Europe/Lisbon",
    "CET": "Europe/Paris (or your city's zone, e.g. Europe/Berlin)",
    "MET": "Europe/Paris (or your city's zone, e.g. Europe/Berlin)",
    "EET": "Europe/Athens (or your city's zone, e.g. Europe/Helsinki)",
}
# The common 'backward' links of tzdata: old names kept for compatibility.
_BACKWARD = {
    "US/Eastern": "America/New_York",
    "US/Central": "America/Chicago",
    "US/Mountain": "America/Denver",
    "US/Pacific": "America/Los_Angeles",
    "US/Alaska": "America/Anchorage",
    "US/Hawaii": "Pacific/Honolulu",
    "US/Arizona": "America/Phoenix",
    "US/Michigan": "America/Detroit",
    "US/East-Indiana": "America/Indiana/Indianapolis",
    "Canada/Eastern": "America/Toronto",
    "Canada/Central": "America/Winnipeg",
    "Canada/Mountain": "America/Edmonton",
    "Canada/Pacific": "America/Vancouver",
    "Canada/Atlantic": "America/Halifax",
    "Canada/Newfoundland": "America/St_Johns",
    "Australia/ACT": "Australia/Sydney",
    "Australia/NSW": "Australia/Sydney",
    "Australia/Canberra": "Australia/Sydney",
    "Australia/Victoria": "Australia/Melbourne",
    "Australia/Queensland": "Australia/Brisbane",
    "Australia/West": "Australia/Perth",
    "Australia/South": "Australia/Adelaide",
    "Australia/North": "Australia/Darwin",
    "Australia/Tasmania": "Australia/Hobart",
    "Brazil/East": "America/Sao_Paulo",
    "Mexico/General": "America/Mexico_City",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Istanbul": "Europe/Istanbul",
    "Europe/Kiev": "Europe/Kyiv",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "Pacific/Samoa": "Pacific/Pago_Pago",
    "GB": "Europe/London",
    "GB-Eire": "Europe/London",
    "Eire": "Europe/Dublin",
    "NZ": "Pacific/Auckland",
    "Japan": "Asia/Tokyo",
    "PRC": "Asia/Shanghai",
    "ROC": "Asia/Taipei",
    "ROK": "Asia/Seoul",
    "Singapore": "Asia/Singapore",
    "Hongkong": "Asia/Hong_Kong",
    "Israel": "Asia/Jerusalem",
    "Turkey": "Europe/Istanbul",
    "Egypt": "Africa/Cairo",
    "Iran": "Asia/Tehran",
    "Poland": "Europe/Warsaw",
    "Portugal": "Europe/Lisbon",
    "Cuba": "America/Havana",
    "Jamaica": "America/Jamaica",
    "Europe/Belfast": "Europe/London",
    "Europe/Tiraspol": "Europe/Chisinau",
    "Europe/Uzhgorod": "Europe/Kyiv",
    "Europe/Zaporozhye": "Europe/Kyiv",
    "America/Montreal": "America/Toronto",
    "America/Godthab": "America/Nuuk",
    "Asia/Dacca": "Asia/Dhaka",
    "Asia/Ulan_Bator": "Asia/Ulaanbaatar",
    "Asia/Chongqing": "Asia/Shanghai",
    "Asia/Tel_Aviv": "Asia/Jerusalem",
    "Africa/Asmera": "Africa/Asmara",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Pacific/Enderbury": "Pacific/Kanton",
}
_GMT_OFFSET = re.compile(r"(?:Etc/)?GMT([+-])(\d{1,2})")


def zone_advice(name: str) -> str | None:
    """Why `name` is not the zone to use, and which is; None for a proper city zone."""
    if name in _FIXED:
        offset, use = _FIXED[name]
        return f"{name} is a fixed offset of {offset} all year, without DST: use {use}"
    if name in _POSIX:
        return (
            f"{name} is an old POSIX-style zone with today's US or EU rules and no local "
            f"history: use {_POSIX[name]}"
        )
    if name in _BACKWARD:
        return f"{name} is an old name kept for compatibility: use {_BACKWARD[name]}"
    if match := _GMT_OFFSET.fullmatch(name):
        sign, hours = match.groups()
        real = "-" if sign == "+" else "+"  # POSIX: GMT+5 is five hours *behind* UTC
        return (
            f"{name} is a fixed offset of {real}{int(hours):02d}:00 all year (the sign is "
            "inverted: POSIX style), without DST: use the zone of a city there, like "
            "America/New_York or Asia/Karachi"
        )
    return None
