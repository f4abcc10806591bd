import CPcap

/// libpcap's version line ("libpcap version 1.10.3 (with TPACKET_V3)"), for bug reports: the
/// TPACKET version and the libpcap release decide much of the capture behaviour.
public var pcapLibraryVersion: String { String(cString: cpcap_lib_version()) }
