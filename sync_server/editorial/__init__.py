"""Editorial: the edit as OpenTimelineIO (OTIO / CMX 3600 EDL / FCP 7 XML), EDL import, the proxy movie."""
