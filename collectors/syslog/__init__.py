"""Syslog collector (stage "collect": syslog senders over UDP/TCP/TLS -> bus topic ``soc.raw``).

:mod:`.framing` splits TCP streams into messages (RFC 6587); :mod:`.server` runs the sockets,
the bounded queue and the publishing thread.
"""

from collectors.syslog.framing import FrameDecoder, Rejected
from collectors.syslog.server import SyslogServer

__all__ = ["FrameDecoder", "Rejected", "SyslogServer"]
