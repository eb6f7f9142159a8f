"""The first steps of the account layer, from a shell (there is no sign-up page):
`python -m accounts --help`."""
