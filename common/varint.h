/* varint: being written */
