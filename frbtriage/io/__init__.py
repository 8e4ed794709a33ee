"""Readers and writers: filterbank/PSRFITS via your, candidate lists, FETCH h5."""
