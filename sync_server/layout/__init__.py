"""The shot's layout on the farm (issue 15): a depth image of the first frame for the 2.5D set, and the
layout's depth video as the control of a render (docs/api.md, "Layout: depth and control video")."""
