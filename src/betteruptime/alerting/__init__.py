"""The alerter: incident decisions from region flips and from time, then their notification."""
