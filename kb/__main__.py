"""`python -m kb`: the same command as `kb`."""

from kb.cli import main

if __name__ == "__main__":
    main()
