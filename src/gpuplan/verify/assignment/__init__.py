"""The assignment verifier: facts of the instance, the rules of models/assignment.md, the value of a placement."""
