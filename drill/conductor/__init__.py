"""The drill conductor: runs the 60-minute 3 A.M. drill from the CLI (`drill start`, `status`,
`watch`, `hint`, `diagnose`, `end`, `postmortem`, `report`, `selftest`), keeping a journal of
every step in the drill log (drill.datadir)."""
