/* crc32c: being written */
