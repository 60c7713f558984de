//! HTTP body decoding (Content-Encoding), with output caps.
