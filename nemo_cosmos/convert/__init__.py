"""Converters between our state_dict layout and other implementations' layouts."""
