"""The `drill` command: runs the lab, grades fixes, applies and undoes reference fixes."""
