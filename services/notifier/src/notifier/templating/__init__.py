"""Message templates as files: templates/<moment>/<channel>.<language>.j2, versioned, rendered for a household."""
