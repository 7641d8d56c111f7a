//! tamma-bench-server: the HTTP service over the facade, with the public API for
//! external tenants and the internal API for the platform's own services.

pub mod graphql;
