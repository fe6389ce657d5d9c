"""Statistics over the LabelTable: agreement, leniency, slices, drift, consensus, impact."""
