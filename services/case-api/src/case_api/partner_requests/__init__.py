"""What the municipality asks of or tells the case's partners: a request to postpone the eviction (with a grounds
category), a request to offer a second-chance agreement, and the case's contact person for the bailiff."""
