"""The catalog: categories, procedures, professionals, and the rooms and equipment of each unit."""
