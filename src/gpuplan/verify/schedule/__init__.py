"""The schedule verifier: facts of the instance, the rules of the schedule contract, the value of
a plan (terms, objectives, KPIs, the jobs / services / energy tables). numpy and pandas only."""
