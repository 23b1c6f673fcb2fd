"""partner_gateway."""
