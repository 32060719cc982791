"""The office's own rules and records: SOP registry, roles and access, agenda, sealed folders,
typed configuration."""
