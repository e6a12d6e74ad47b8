/* props: being written */
