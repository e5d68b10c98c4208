"""LVS table model and the pure planner that turns desired vs actual tables into operations."""
