"""What CircleCI runs besides the program: a stack's CI environment (``stack_env``) and the change
report a pull request shows (``change_report``)."""
