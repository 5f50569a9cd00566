"""Shots: the shot list, its order, its status workflow and its locks."""
