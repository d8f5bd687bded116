//! gcsim: an in-memory model of the Genesys Cloud Platform API v2 slice that gcrecon uses.
