//! HTTP/1.x messages in both directions of a stream, and HTTP over UDP (SSDP).
